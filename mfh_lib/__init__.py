"""mfh_lib: the shared library of the MFH reproducibility book.

Modules, flat by concept: config (profiles, seeding, device, data dir), cache (resumable results,
progress), stats (summaries, CIs, verdicts), claims (the ledger), losses (KD, MSD), models,
training (seed-vectorised loops), theory (MFH lemmas and bounds), mi (mutual information),
ranking (Algorithm 1), plotting, and data/ (one module per dataset: real loader + stand-in).
"""
__version__ = "0.1.0"
