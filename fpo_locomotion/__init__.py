"""fpo-locomotion: Flow Policy Optimization for joystick humanoid locomotion on rsl_rl, with ONNX export."""

__version__ = "0.1.0"
