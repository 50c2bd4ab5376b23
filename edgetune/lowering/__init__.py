"""TIR lowering for CPU builds: TVM's default pipeline plus edgetune's passes (pipeline.py)."""
