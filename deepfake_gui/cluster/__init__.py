"""Scale-out back ends for scans (Ray)."""
