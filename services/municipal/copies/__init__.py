"""Certified copies of resident records (住民票の写し) issued nationwide (広域交付)."""
