"""Make ``interp/data/geo/land_110m.json``: Natural Earth's 1:110m land outlines as lon/lat polylines.

Source: ``land-110m.json`` of the npm package ``world-atlas`` 2.0.2 (Natural Earth 4.1.0 "land",
1:110m physical vectors, as TopoJSON; Natural Earth is in the public domain, world-atlas is ISC).
The TopoJSON arcs are decoded (delta-encoded, quantized), the rings of every polygon assembled and
written as polylines in degrees, rounded to 0.01 degree. A ring is cut where consecutive points are
more than 180 degrees of longitude apart (it crosses the antimeridian), so that a planar plot draws
no line across the map; nothing else is changed.

Run: ``npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz`` then
``python probes/geo/make_land.py package/land-110m.json interp/data/geo/land_110m.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """Every arc of ``topology`` as absolute (lon, lat) points in degrees."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_points(ring: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """One ring (a list of arc indices; ~i is arc i reversed) as points, shared end points once."""
    points: list[tuple[float, float]] = []
    for index in ring:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def polylines(topology: dict, name: str = "land") -> list[list[list[float]]]:
    arcs = decode_arcs(topology)
    lines = []
    for geometry in topology["objects"][name]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            for ring in polygon:
                line: list[list[float]] = []
                for lon, lat in ring_points(ring, arcs):
                    if line and abs(lon - line[-1][0]) > 180:  # crosses the antimeridian: start a new line
                        lines.append(line)
                        line = []
                    line.append([round(lon, 2), round(lat, 2)])
                lines.append(line)
    return [line for line in lines if len(line) > 1]


def main(source: str, target: str) -> None:
    lines = polylines(json.loads(Path(source).read_text()))
    data = {"source": "Natural Earth 4.1.0, 1:110m physical vectors, land (public domain), via the npm package "
                      "world-atlas 2.0.2 (land-110m.json); made by probes/geo/make_land.py",
            "licence": "public domain (Natural Earth)", "units": "degrees [longitude, latitude]", "lines": lines}
    Path(target).write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"{len(lines)} lines, {sum(len(line) for line in lines)} points -> {target}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
