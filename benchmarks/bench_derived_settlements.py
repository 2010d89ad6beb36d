"""How far the derived inputs are from the real ones, on synthetic counties (which have both).

For each county: the settlement layer derived from the parcels
(:func:`pianqu.derive.settlements.settlements_from_parcels`) against the synthesiser's true
seats (distance per level: median, p90, max in metres; how each seat was found), and the
census spread over residential land (:func:`pianqu.derive.population.spread_census`) against
the synthesiser's township and village populations (relative error, median and p90; the county
total must be exact). The synthesiser grew its towns and homesteads around its seats, so this
comparison is favourable to the derivation. Not a test::

    nice python benchmarks/bench_derived_settlements.py [--counties 511921,510403,511827]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from pianqu import divisions
from pianqu.derive.population import spread_census
from pianqu.derive.settlements import settlements_from_parcels
from pianqu.geo import compute_epsg
from pianqu.parcels import select_epoch
from pianqu.synth.county import synthesize_county


def seat_errors(derived, true, epsg: int) -> pd.DataFrame:
    """Distance (m) from each derived seat to the true seat of the same level and code."""
    key = lambda d: d["level"].astype(str) + ":" + d["code"].astype(str)  # noqa: E731
    a = derived.set_index(key(derived)).to_crs(epsg)
    b = true.set_index(key(true)).to_crs(epsg).loc[a.index]
    return pd.DataFrame({"level": a["level"].astype(str).to_numpy(), "method": a["method"].astype(str).to_numpy(),
                         "d": a.geometry.distance(b.geometry).to_numpy()})


def rel_error(est: pd.Series, true: pd.Series) -> pd.Series:
    t = true.loc[est.index].astype(float)
    return (est.astype(float) - t).abs() / t.clip(lower=1.0)


def run(code: str) -> dict:
    layers = synthesize_county(code, 1)
    epsg = compute_epsg(layers["township"])
    t0 = time.perf_counter()
    s = settlements_from_parcels(layers["landuse"], layers["township"], layers["village"], compute_epsg=epsg)
    t_seats = time.perf_counter() - t0
    t0 = time.perf_counter()
    tp, vp, _ = spread_census(code, layers["township"], layers["village"], layers["landuse"])
    t_pop = time.perf_counter() - t0
    err = seat_errors(s, layers["settlement"], epsg)
    tt = layers["township"].set_index(layers["township"]["code"].astype(str))["population"]
    tv = layers["village"].set_index(layers["village"]["code"].astype(str))["population"]
    return {"code": code, "name": divisions.county(code)["name"], "parcels": len(select_epoch(layers["landuse"])),
            "err": err, "t_seats": t_seats, "t_pop": t_pop, "rt": rel_error(tp, tt), "rv": rel_error(vp, tv),
            "total": int(vp.sum()), "census": int(divisions.census(code)["population"]),
            "township_sum": int(tp.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counties", default="511921,510403,511827")
    args = ap.parse_args()
    results = [run(c.strip()) for c in args.counties.split(",")]
    print("| county | parcels (base epoch) | level | n | median m | p90 m | max m | how found |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        for level, g in r["err"].groupby("level", sort=False):
            how = ", ".join(f"{k} {v}" for k, v in g["method"].value_counts().items())
            print(f"| {r['code']} {r['name']} | {r['parcels']:,} | {level} | {len(g)} | {np.median(g['d']):.0f} | "
                  f"{np.quantile(g['d'], 0.9):.0f} | {g['d'].max():.0f} | {how} |")
    print()
    print("| county | census 2020 | Σ villages | Σ townships | township err median / p90 | "
          "village err median / p90 | seats s | population s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['code']} {r['name']} | {r['census']:,} | {r['total']:,} | {r['township_sum']:,} | "
              f"{r['rt'].median():.1%} / {r['rt'].quantile(0.9):.1%} | {r['rv'].median():.1%} / "
              f"{r['rv'].quantile(0.9):.1%} | {r['t_seats']:.1f} | {r['t_pop']:.1f} |")


if __name__ == "__main__":
    main()
