"""The anc capability service: adaptive filters (dsp), noise classifier, gRPC AncService."""
