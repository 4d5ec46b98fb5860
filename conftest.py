import os

# Headless rendering everywhere (CI has no display); set before pygame is imported anywhere.
# One conftest at the root serves both tests/ and benchmarks/.
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
