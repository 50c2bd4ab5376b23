"""TIR lowering for CPU builds: TVM's default pipeline plus edgetune's passes (pipeline.py):
vector widths (split_vectors.py), the requantization's int64 products on x86 (even_odd.py)."""
