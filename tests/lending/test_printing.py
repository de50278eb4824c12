"""Device labels through the API and the command line, read back with a real decoder."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pypdfium2
import zxingcpp
from PIL import Image
from sqlalchemy import select

from inventory.models import Device


def decoded_urls(pdf: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(pdf)
    texts = []
    for page in document:
        image = page.render(scale=300 / 72).to_pil().convert("L")
        texts += [code.text for code in zxingcpp.read_barcodes(image)]
    return texts


def make_devices(client, headers, count: int) -> list[str]:
    return [client.post("/api/v1/devices", json={
        "kind": "tablet", "make": "Samsung", "model": "Tab A9", "location": "LDN"},
        headers=headers).json()["asset_tag"] for _ in range(count)]


def test_a_sheet_of_labels_decodes_to_each_device_url(client, staff, office, engine):
    tags = make_devices(client, staff, 4)
    response = client.post("/api/v1/labels", json={
        "tags": tags[:3], "template": "avery-l7160", "start": 5}, headers=staff)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-label-count"] == "3"
    assert sorted(decoded_urls(response.content)) == sorted(
        f"http://testserver/d/{tag}" for tag in tags[:3])
    with engine.connect() as connection:
        labelled = connection.scalars(select(Device.asset_tag).where(
            Device.labelled_at.is_not(None))).all()
    assert sorted(labelled) == sorted(tags[:3])


def test_unlabelled_prints_each_device_once(client, staff, office):
    tags = make_devices(client, staff, 3)
    client.post("/api/v1/labels", json={"tags": [tags[0]], "template": "brother-62x29"},
                headers=staff)
    first = client.post("/api/v1/labels", json={"unlabelled": True, "template": "avery-l7651"},
                        headers=staff)
    assert first.status_code == 200
    assert sorted(decoded_urls(first.content)) == sorted(
        f"http://testserver/d/{tag}" for tag in tags[1:])
    again = client.post("/api/v1/labels", json={"unlabelled": True, "template": "avery-l7651"},
                        headers=staff)
    assert again.status_code == 422 and "already has a label" in again.json()["detail"]


def test_bad_label_requests_name_the_problem(client, staff, office, app):
    tags = make_devices(client, staff, 3)
    unknown_template = client.post("/api/v1/labels", json={"tags": tags, "template": "nope"},
                                   headers=staff)
    assert unknown_template.status_code == 422
    assert unknown_template.json()["errors"][0]["field"] == "template"
    assert "avery-l7160" in unknown_template.json()["detail"]
    unknown_tags = client.post("/api/v1/labels", json={
        "tags": [tags[0], "NOPE-1", "NOPE-2"], "template": "avery-l7160"}, headers=staff)
    assert unknown_tags.status_code == 422
    assert "NOPE-1, NOPE-2" in unknown_tags.json()["detail"]
    past = client.post("/api/v1/labels", json={"tags": tags, "template": "avery-l7160",
                                               "start": 22}, headers=staff)
    assert past.status_code == 422 and past.json()["errors"][0]["field"] == "start"
    app.state.settings.max_labels_per_request = 2
    too_many = client.post("/api/v1/labels", json={"tags": tags, "template": "avery-l7160"},
                           headers=staff)
    assert too_many.status_code == 422 and "at most 2" in too_many.json()["detail"]


def test_one_device_qr_as_svg_and_png(client, staff, office):
    [tag] = make_devices(client, staff, 1)
    png = client.get(f"/api/v1/devices/{tag}/qr.png", headers=staff)
    assert png.headers["content-type"] == "image/png"
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert code.text == f"http://testserver/d/{tag}"
    svg = client.get(f"/api/v1/devices/{tag}/qr.svg", headers=staff)
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert svg.text.lstrip().startswith(("<svg", "<?xml"))
    assert client.get("/api/v1/devices/NOPE-1/qr.svg", headers=staff).status_code == 404


def test_the_command_prints_a_sheet_and_the_alignment_page(client, staff, office,
                                                           database_url, tmp_path):
    tags = make_devices(client, staff, 2)
    lending = str(Path(sys.executable).with_name("lending"))
    env = {**os.environ, "LENDING_DATABASE_URL": database_url,
           "LENDING_BASE_URL": "https://lend.example.org"}
    sheet = tmp_path / "sheet.pdf"
    done = subprocess.run([lending, "labels", *tags, "--template", "avery-5160", "--output",
                           str(sheet)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(decoded_urls(sheet.read_bytes())) == sorted(
        f"https://lend.example.org/d/{tag}" for tag in tags)
    align = subprocess.run([lending, "labels", "--alignment", "--template", "avery-l7163",
                            "--output", str(tmp_path / "a.pdf")], capture_output=True,
                           text=True, env=env, cwd=tmp_path)
    assert align.returncode == 0 and (tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    bad = subprocess.run([lending, "labels", "--template", "nope", "--output",
                          str(tmp_path / "x.pdf"), tags[0]], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    assert bad.returncode == 1 and "unknown template" in bad.stderr
