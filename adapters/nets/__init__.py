"""Networks the adapters share, in pure PyTorch (CPU and CUDA), laid out so official checkpoints load strictly."""
