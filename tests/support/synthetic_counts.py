"""Counts per parameter of Argo S-files, read with netCDF4-python (Debian's python3-netcdf4).

For each file given on the command line, prints one JSON object:
{"file": name, "counts": {PARAM: n}}, where n is the number of levels
(over every N_PROF) whose PRES is not fill and where the parameter holds
anything: a value, a QC flag (not blank), an adjusted value, an adjusted QC
flag or an adjusted error. The lake's `synthetic` table has one row for each.
Only fill values mean "nothing" (the variable's _FillValue, Argo's 99999, NetCDF's
default fill, -999): values outside valid_min/valid_max are values, as the Argo
manual keeps them, so netCDF4's automatic masking is off.
"""
import json
import sys

import netCDF4
import numpy as np


def chars(var):
    """A char variable as an array of trimmed strings over its leading dimensions."""
    return np.char.strip(netCDF4.chartostring(var[:]))


def present(ds, name, prof):
    """Boolean per level: the variable holds something at (prof, level)."""
    if name not in ds.variables:
        return None
    var = ds.variables[name]
    v = var[prof]
    if v.dtype.kind in ("S", "U"):
        return np.isin(np.asarray(v, dtype="S1"), [str(d).encode() for d in range(10)])
    data = np.asarray(v, dtype="float64")
    fill = float(var._FillValue) if "_FillValue" in var.ncattrs() else 99999.0
    return ~np.isnan(data) & (data != fill) & (np.abs(data) < 9.9e36) & (data != 99999) & (data != -999)


for path in sys.argv[1:]:
    ds = netCDF4.Dataset(path)
    ds.set_auto_mask(False)
    station = chars(ds.variables["STATION_PARAMETERS"])
    counts = {}
    for prof in range(len(ds.dimensions["N_PROF"])):
        levels = present(ds, "PRES", prof)
        for name in sorted(set(x for x in station[prof] if x)):
            if name not in ds.variables or ds.variables[name].ndim != 2:
                continue
            any_field = np.zeros_like(levels)
            for suffix in ("", "_QC", "_ADJUSTED", "_ADJUSTED_QC", "_ADJUSTED_ERROR"):
                p = present(ds, name + suffix, prof)
                if p is not None:
                    any_field |= p
            counts[name] = counts.get(name, 0) + int(np.sum(any_field & levels))
    print(json.dumps({"file": path.rsplit("/", 1)[-1], "counts": counts}))
    ds.close()
