"""Text/motion evaluators (PyTorch). Import of this package does not import torch; its modules do."""
