"""転出届の特例: resident cards, the online move-out at the old town, and the 転出証明書情報
the new town receives, lists for its clerks and records a 転入 from."""
