import torch

# One intra-op thread: the test networks are small (threads only add overhead) and results stay
# independent of how busy the machine is.
torch.set_num_threads(1)
