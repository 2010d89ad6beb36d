"""Load of the web app (issue 14): N concurrent simulated users (httpx async, loopback only)
mixing tiles, identify, statistics and zone-edit checks for a bounded time, on a GeoPackage
and on PostGIS side by side; p50/p95 per kind and errors. 510403 西区 synthetic, planned once.

    python benchmarks/bench_web.py [--users 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

PASSWORD = "benchmark password"


def _tile_of(lon, lat, z):
    x = int((lon + 180) / 360 * 2 ** z)
    y = int((1 - math.log(math.tan(math.radians(lat)) + 1 / math.cos(math.radians(lat))) / math.pi) / 2 * 2 ** z)
    return x, y


def _serve(app):
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


async def _user(base, county, tiles, points, assignment, zones, deadline, out, rng):
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        r = await c.post("/api/login", json={"username": "bench", "password": PASSWORD})
        h = {"X-CSRF-Token": r.json()["csrf"]}
        while time.perf_counter() < deadline:
            kind = rng.choices(["tile", "identify", "stats", "edit"], weights=[6, 2, 1, 1])[0]
            t0 = time.perf_counter()
            try:
                if kind == "tile":
                    layer, z, x, y = rng.choice(tiles)
                    resp = await c.get(f"/tiles/{county}/{'plan' if layer == 'zone' else 'base'}/{layer}/{z}/{x}/{y}.pbf?rev=1")
                elif kind == "identify":
                    lon, lat = rng.choice(points)
                    resp = await c.get(f"/api/counties/{county}/identify?lon={lon}&lat={lat}&scenario=plan&layers=township,zone,landuse")
                elif kind == "stats":
                    lon, lat = rng.choice(points)
                    d = 0.005
                    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
                    resp = await c.post(f"/api/counties/{county}/stats", json={"geometry": {"type": "Polygon", "coordinates": [ring]}}, headers=h)
                else:
                    code = rng.choice(list(assignment))
                    trial = {**assignment, code: rng.choice(zones)}
                    resp = await c.post(f"/api/counties/{county}/scenarios/plan/check", json={"assignment": trial}, headers=h)
                ok = resp.status_code == 200
            except Exception:
                ok = False
            out.append((kind, time.perf_counter() - t0, ok))


def run_load(app, county, ws, users, seconds):
    import geopandas as gpd

    server, base = _serve(app)
    t = ws.read("township")
    points = [(p.x, p.y) for p in t.geometry.representative_point()]
    tiles = []
    for z in (11, 12, 13, 14):
        for lon, lat in points:
            x, y = _tile_of(lon, lat, z)
            for layer in ("landuse", "township", "road", "zone"):
                tiles.append((layer, z, x, y))
    m = ws.read("zone_member", "plan")
    assignment = dict(zip(m["township_code"].astype(str), m["zone"].astype(str)))
    zones = sorted(set(assignment.values()))
    out: list = []
    rng = random.Random(1)

    async def main():
        # warm: one pass over the tiles, one edit session
        import httpx

        async with httpx.AsyncClient(base_url=base, timeout=60) as c:
            r = await c.post("/api/login", json={"username": "bench", "password": PASSWORD})
            h = {"X-CSRF-Token": r.json()["csrf"]}
            for layer, z, x, y in tiles:
                await c.get(f"/tiles/{county}/{'plan' if layer == 'zone' else 'base'}/{layer}/{z}/{x}/{y}.pbf?rev=1")
            await c.post(f"/api/counties/{county}/scenarios/plan/check", json={"assignment": assignment}, headers=h)
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*[_user(base, county, tiles, points, assignment, zones, deadline, out, random.Random(i))
                               for i in range(users)])

    asyncio.run(main())
    server.should_exit = True
    rows = {}
    for kind in ("tile", "identify", "stats", "edit", "all"):
        xs = [d for k, d, _ in out if k == kind or kind == "all"]
        errs = sum(1 for k, _, ok in out if (k == kind or kind == "all") and not ok)
        rows[kind] = (len(xs), np.percentile(xs, 50) * 1000 if xs else float("nan"),
                      np.percentile(xs, 95) * 1000 if xs else float("nan"), errs)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    from pianqu.plan import plan
    from pianqu.store.transfer import push
    from pianqu.synth import write_county
    from pianqu.testing import pgcluster
    from pianqu.web import auth
    from pianqu.web.app import create_app
    from pianqu.web.registry import open_registry
    from pianqu.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="pianqu-bench-web-"))
    path = tmp / "510403.gpkg"
    write_county("510403", path, seed=1)
    plan(Workspace.open(path), "plan", p=2)
    auth.add_user(auth.user_store(path), "bench", PASSWORD, "county_planner", "510403")
    results = {}
    reg = open_registry(path)
    results["GeoPackage"] = run_load(create_app(reg), "510403", reg.workspaces["510403"], args.users, args.seconds)
    cluster = pgcluster.start()
    try:
        push(path, cluster.url)
        auth.add_user(auth.user_store(cluster.url), "bench", PASSWORD, "county_planner", "510403")
        reg = open_registry(cluster.url)
        results["PostGIS"] = run_load(create_app(reg), "510403", reg.workspaces["510403"], args.users, args.seconds)
    finally:
        pgcluster.stop(cluster)
    print(f"{args.users} users, {args.seconds:.0f} s each backend (loopback, 510403 西区 synthetic)")
    print("| backend | kind | requests | p50 ms | p95 ms | errors |")
    print("|---|---|---:|---:|---:|---:|")
    for backend, rows in results.items():
        for kind, (n, p50, p95, errs) in rows.items():
            print(f"| {backend} | {kind} | {n} | {p50:.1f} | {p95:.1f} | {errs} |")


if __name__ == "__main__":
    main()
