"""implicit_prm: offline trainer for implicit process reward models.

Data (synthetic arithmetic) -> SFT reference -> rollouts -> implicit PRM training (CE / DPO), all
transformers models -> evaluation -> bundle through `import` (ARCHITECTURE.md §2) -> golden
fixtures; also the import of users' checkpoints and the reference scorers.
"""
import os

# Debian's torch uses OpenBLAS (pthreads) next to its own OpenMP pool: two pools oversubscribe the
# cores and make training several times slower. One BLAS thread; torch's intra-op threads do the rest.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# The build machine is shared: with spinning OpenMP workers a 2-thread step gets several times slower
# as soon as another process wants a core. Passive waiting degrades gracefully.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
