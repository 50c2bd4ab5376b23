"""Where a built model's time goes: every kernel timed inside the whole model, next to its
tuned estimate (`edgetune profile`)."""

from .kernels import KernelRow, Profile, profile_model

__all__ = ["KernelRow", "Profile", "profile_model"]
