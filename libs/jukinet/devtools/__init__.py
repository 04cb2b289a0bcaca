"""Development tools, never imported by production code: the local federation, synthetic
residents, benchmarks.
"""
