"""Metadata and provenance: generator chunks, EXIF, XMP source types, C2PA (signed, trusted, tampered), AV tags.

Every C2PA asset is signed here, with a throw-away CA and signer made by the
``cryptography`` package, so the tests need no fixture files and no network.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import struct
import sys
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from deepfake_gui.core.hashing import sha256_file
from deepfake_gui.provenance import provenance_disagreement, read_provenance
from deepfake_gui.provenance.c2pa_reader import read_c2pa

c2pa = pytest.importorskip("c2pa")

AI_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
CAPTURE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
A1111 = ("a lighthouse at dusk, oil painting\nNegative prompt: blurry\n"
         "Steps: 30, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1234, Size: 512x512, Model: sd_xl_base_1.0")


# --- helpers --------------------------------------------------------------------


def _rgb(width: int = 48, height: int = 32) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _insert_before_iend(png: bytes, chunk: bytes) -> bytes:
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + chunk + png[iend:]


def _xmp(source_type: str, tool: str | None = None) -> str:
    tool_attr = f' xmp:CreatorTool="{tool}"' if tool else ""
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        f' xmlns:xmp="http://ns.adobe.com/xap/1.0/" Iptc4xmpExt:DigitalSourceType="{source_type}"{tool_attr}/>'
        "</rdf:RDF></x:xmpmeta>"
    )


def _fingerprint(path: Path) -> tuple[str, int, int, list[str]]:
    """What must not change when provenance is read: content, size, mtime, and the folder's file list."""
    st = os.stat(path)
    return sha256_file(path), st.st_size, st.st_mtime_ns, sorted(os.listdir(path.parent))


def _sources(prov: dict) -> dict[str, dict]:
    return {h["source"]: h for h in prov["generator_hints"]}


# --- C2PA signing with a self-made certificate chain ---------------------------------


@pytest.fixture(scope="module")
def pki() -> dict[str, str]:
    """An ES256 root CA and an end-entity signer (digitalSignature, emailProtection), as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "LayerScope Test")])

    def usage(**on: bool) -> x509.KeyUsage:
        flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                               "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"),
                              False)
        return x509.KeyUsage(**(flags | on))

    def base(subject: str, issuer: x509.Name, key) -> x509.CertificateBuilder:
        return (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))

    ca_key, ee_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (base("LayerScope Test Root", name("LayerScope Test Root"), ca_key)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .sign(ca_key, hashes.SHA256()))
    ee = (base("LayerScope Test Signer", ca.subject, ee_key)
          .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
          .add_extension(usage(digital_signature=True), critical=True)
          .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
          .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return {
        "chain": (ee.public_bytes(pem) + ca.public_bytes(pem)).decode(),
        "ca": ca.public_bytes(pem).decode(),
        "key": ee_key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode(),
    }


def _sign(pki: dict[str, str], out: Path, mime: str, source_type: str) -> Path:
    """Write a 48x32 image of type ``mime`` to ``out`` with a c2pa.created action of ``source_type``."""
    src = io.BytesIO()
    _rgb().save(src, {"image/jpeg": "JPEG", "image/png": "PNG"}[mime])
    src.seek(0)
    manifest = {
        "claim_generator_info": [{"name": "LayerScope tests", "version": "1.0"}],
        "title": out.name,
        "assertions": [{"label": "c2pa.actions",
                        "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": source_type}]}}],
    }
    # PEM as bytes: C2paSignerInfo hands them to ctypes c_char_p fields
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, pki["chain"].encode(), pki["key"].encode(), None)
    signer = c2pa.Signer.from_info(info)
    dest = io.BytesIO()
    with c2pa.Builder(manifest) as builder:
        builder.sign(signer, mime, src, dest)
    out.write_bytes(dest.getvalue())
    return out


@pytest.fixture(scope="module")
def signed(pki: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("c2pa")
    files = {
        "ai_jpeg": _sign(pki, d / "ai.jpg", "image/jpeg", AI_TYPE),
        "ai_png": _sign(pki, d / "ai.png", "image/png", AI_TYPE),
        "camera_jpeg": _sign(pki, d / "camera.jpg", "image/jpeg", CAPTURE_TYPE),
    }
    data = bytearray(files["ai_jpeg"].read_bytes())
    scan_end = data.rindex(b"\xff\xd9")  # flip bytes in the entropy-coded image data, before EOI
    for i in range(scan_end - 60, scan_end - 20):
        data[i] ^= 0x5A
    files["tampered_jpeg"] = d / "ai_tampered.jpg"
    files["tampered_jpeg"].write_bytes(bytes(data))
    data = bytearray(files["ai_jpeg"].read_bytes())
    at = data.index(b"c2pa.actions") + 40  # inside the signed actions assertion
    data[at : at + 4] = bytes(b ^ 0xFF for b in data[at : at + 4])
    files["tampered_manifest"] = d / "ai_tampered_manifest.jpg"
    files["tampered_manifest"].write_bytes(bytes(data))
    return files


@pytest.mark.parametrize("name", ["ai_jpeg", "ai_png"])
def test_c2pa_ai_assertion_is_read_and_validated(signed: dict[str, Path], name: str) -> None:
    prov = read_provenance(signed[name], "image")
    cr = prov["c2pa"]
    assert cr["status"] == "ok" and cr["present"] is True
    # Intact and correctly signed, but our test CA is on no trust list: c2pa-rs says "Valid", not "Trusted".
    assert cr["validation_state"] == "Valid"
    assert cr["valid"] is True and cr["trusted"] is False
    assert [e.split(":")[0] for e in cr["errors"]] == ["signingCredential.untrusted"]
    assert cr["claim_generator"] == "LayerScope tests 1.0"
    assert cr["signer"] == "LayerScope Test Signer" and cr["issuer"] == "LayerScope Test"
    assert cr["actions"] == [{"action": "c2pa.created", "digital_source_type": "trainedAlgorithmicMedia",
                              "software_agent": None, "when": None}]
    assert cr["ai_generated"] is True and cr["camera_capture"] is False
    assert prov["ai_metadata"] is True
    assert "signer is not on a trust list" in prov["summary"] and "AI-generated" in prov["summary"]
    json.dumps(prov)  # JSON-able as is


def test_c2pa_signer_chaining_to_a_given_anchor_is_trusted(signed: dict[str, Path], pki: dict[str, str]) -> None:
    cr = read_c2pa(signed["ai_jpeg"], trust_anchors_pem=pki["ca"])
    assert (cr["validation_state"], cr["valid"], cr["trusted"], cr["errors"]) == ("Trusted", True, True, [])


def test_c2pa_trust_anchors_file_in_the_data_dir_is_used(
    signed: dict[str, Path], pki: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAYERSCOPE_DATA_DIR", str(tmp_path))
    (tmp_path / "c2pa_trust_anchors.pem").write_text(pki["ca"])
    assert read_provenance(signed["ai_jpeg"], "image")["c2pa"]["validation_state"] == "Trusted"


@pytest.mark.parametrize("anchors", [None, "ca"])
def test_tampered_c2pa_asset_is_invalid(signed: dict[str, Path], pki: dict[str, str], anchors: str | None) -> None:
    cr = read_c2pa(signed["tampered_jpeg"], trust_anchors_pem=pki[anchors] if anchors else None)
    assert cr["present"] is True
    assert cr["validation_state"] == "Invalid" and cr["valid"] is False
    codes = {e.split(":")[0] for e in cr["errors"]}
    assert "assertion.dataHash.mismatch" in codes
    # Trust is a separate question: with the anchor the signer is trusted, the data still is not intact.
    assert ("signingCredential.untrusted" in codes) is (anchors is None)
    prov = read_provenance(signed["tampered_jpeg"], "image")
    assert "INVALID" in prov["summary"]


def test_tampered_manifest_is_invalid(signed: dict[str, Path]) -> None:
    prov = read_provenance(signed["tampered_manifest"], "image")
    cr = prov["c2pa"]
    assert cr["present"] is True and cr["valid"] is False and cr["validation_state"] == "Invalid"
    assert cr["errors"] and "INVALID" in prov["summary"]


def test_c2pa_absent_from_plain_files(tmp_path: Path) -> None:
    path = tmp_path / "plain.jpg"
    _rgb().save(path, quality=90)
    prov = read_provenance(path, "image")
    assert prov["c2pa"]["status"] == "absent" and prov["c2pa"]["present"] is False
    assert prov["c2pa"]["valid"] is None
    assert prov["generator_hints"] == [] and prov["ai_metadata"] is False
    assert prov["summary"].startswith("No Content Credentials or generator metadata found")


def test_missing_c2pa_package_degrades(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "c2pa", None)  # makes `import c2pa` raise ImportError
    path = tmp_path / "plain.png"
    _rgb().save(path)
    prov = read_provenance(path, "image")
    assert prov["c2pa"]["status"] == "unavailable" and "c2pa-python" in prov["c2pa"]["reason"]
    assert prov["c2pa"]["present"] is False


# --- disagreement with the detector verdict ---------------------------------------------


def test_disagreement_caveats(signed: dict[str, Path], tmp_path: Path) -> None:
    ai = read_provenance(signed["ai_jpeg"], "image")
    camera = read_provenance(signed["camera_jpeg"], "image")
    assert camera["c2pa"]["camera_capture"] is True and camera["ai_metadata"] is False

    caveat = provenance_disagreement(ai, "real")
    assert caveat is not None and "Content Credentials" in caveat and "verdict is real" in caveat
    assert "unchanged" in caveat
    caveat = provenance_disagreement(camera, "fake")
    assert caveat is not None and "camera capture" in caveat and "LayerScope Test Signer" in caveat
    assert "not on a trust list" in caveat

    assert provenance_disagreement(ai, "fake") is None
    assert provenance_disagreement(ai, "inconclusive") is None
    assert provenance_disagreement(ai, None) is None
    assert provenance_disagreement(camera, "real") is None
    assert provenance_disagreement(None, "real") is None

    tampered_camera = dict(camera, c2pa=dict(camera["c2pa"], valid=False))
    assert provenance_disagreement(tampered_camera, "fake") is None  # a broken signature vouches for nothing


def test_disagreement_from_generator_metadata(tmp_path: Path) -> None:
    path = tmp_path / "a1111.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    _rgb().save(path, pnginfo=info)
    caveat = provenance_disagreement(read_provenance(path, "image"), "real")
    assert caveat is not None and "png:parameters" in caveat and "AUTOMATIC1111" in caveat


# --- image metadata and generator fingerprints --------------------------------------------


def test_png_parameters_chunk_is_reported_with_its_meaning(tmp_path: Path) -> None:
    path = tmp_path / "sd.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111 + ", " + "x" * 2000)  # long: the hint quotes at most 300 chars
    _rgb().save(path, pnginfo=info)
    prov = read_provenance(path, "image")
    hint = _sources(prov)["png:parameters"]
    assert "AUTOMATIC1111" in hint["meaning"] and hint["ai_generated"] is True
    assert hint["value"].startswith("a lighthouse at dusk") and len(hint["value"]) <= 300
    assert prov["metadata"]["png_text_keys"] == ["parameters"]
    assert prov["ai_metadata"] is True
    assert "AUTOMATIC1111" in prov["summary"]


def test_comfyui_invokeai_and_novelai_chunks(tmp_path: Path) -> None:
    path = tmp_path / "gen.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("prompt", json.dumps({"3": {"class_type": "KSampler", "inputs": {"steps": 20}}}), zip=True)
    info.add_text("Software", "NovelAI")
    info.add_text("invokeai_metadata", json.dumps({"model": "sdxl"}))
    _rgb().save(path, pnginfo=info)
    # ComfyUI's workflow chunk written after the image data, where Pillow's reader never looks
    workflow = b"workflow\x00" + json.dumps({"nodes": [{"id": 3, "type": "KSampler"}]}).encode()
    path.write_bytes(_insert_before_iend(path.read_bytes(), _png_chunk(b"tEXt", workflow)))

    hints = _sources(read_provenance(path, "image"))
    assert "ComfyUI" in hints["png:prompt"]["meaning"] and "KSampler" in hints["png:prompt"]["value"]
    assert "ComfyUI" in hints["png:workflow"]["meaning"]
    assert "InvokeAI" in hints["png:invokeai_metadata"]["meaning"]
    assert "NovelAI" in hints["png:Software"]["meaning"]
    assert all(h["ai_generated"] for h in hints.values())


def test_unrelated_text_chunks_are_not_blamed_on_generators(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", "ask the source for the original")  # not a ComfyUI graph
    info.add_text("Description", "portrait in the style of Midjourney")  # a caption, not a software tag
    info.add_text("Software", "GIMP 2.10")
    _rgb().save(path, pnginfo=info)
    prov = read_provenance(path, "image")
    assert prov["generator_hints"] == [] and prov["ai_metadata"] is False


def test_exif_written_with_pillow_is_reported(tmp_path: Path) -> None:
    im = _rgb()
    exif = im.getexif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Canon", "Canon EOS 5D Mark IV", "Adobe Photoshop 25.0"
    exif.get_ifd(0x8769)[0x9003] = "2024:03:05 14:22:10"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (48.0, 51.0, 29.1234), "E", (2.0, 17.0, 40.5678)
    path = tmp_path / "camera.jpg"
    im.save(path, exif=exif, quality=90)

    meta = read_provenance(path, "image")["metadata"]
    assert meta["format"] == "JPEG" and (meta["width"], meta["height"]) == (48, 32)
    assert meta["camera_make"] == "Canon" and meta["camera_model"] == "Canon EOS 5D Mark IV"
    assert meta["software"] == "Adobe Photoshop 25.0"
    assert meta["datetime_original"] == "2024:03:05 14:22:10"
    assert meta["gps_present"] is True and meta["exif_present"] is True
    assert "29.12" not in json.dumps(meta) and "40.56" not in json.dumps(meta)  # presence only, no coordinates
    prov = read_provenance(path, "image")
    assert "Canon Canon EOS 5D Mark IV" in prov["summary"] and prov["ai_metadata"] is False


def test_exif_in_a_png_is_read_without_decoding_pixels(tmp_path: Path) -> None:
    im = _rgb()
    exif = im.getexif()
    exif[0x0131] = "Adobe Firefly"
    path = tmp_path / "firefly.png"
    im.save(path, exif=exif)
    prov = read_provenance(path, "image")
    assert prov["metadata"]["software"] == "Adobe Firefly"
    assert "Adobe Firefly" in _sources(prov)["exif:Software"]["meaning"]


@pytest.mark.parametrize(("source_type", "ai"), [(AI_TYPE, True), (CAPTURE_TYPE, False)])
def test_xmp_digital_source_type(tmp_path: Path, source_type: str, ai: bool) -> None:
    path = tmp_path / "xmp.jpg"
    _rgb().save(path, quality=90, xmp=_xmp(source_type, tool="Some Editor 1.0").encode())
    prov = read_provenance(path, "image")
    hint = _sources(prov)["xmp:DigitalSourceType"]
    assert hint["ai_generated"] is ai and prov["ai_metadata"] is ai
    assert ("AI-generated" in hint["meaning"]) is ai
    assert prov["metadata"]["xmp_present"] is True
    assert prov["metadata"]["xmp_creator_tool"] == "Some Editor 1.0"


def test_xmp_in_a_png_itxt_chunk(tmp_path: Path) -> None:
    path = tmp_path / "xmp.png"
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", _xmp("http://cv.iptc.org/newscodes/digitalsourcetype/"
                                            "compositeWithTrainedAlgorithmicMedia"))
    _rgb().save(path, pnginfo=info)
    prov = read_provenance(path, "image")
    assert "includes AI-generated elements" in _sources(prov)["xmp:DigitalSourceType"]["meaning"]
    assert prov["ai_metadata"] is True


def test_icc_profile_description(tmp_path: Path) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "icc.jpg"
    _rgb().save(path, quality=90, icc_profile=icc)
    meta = read_provenance(path, "image")["metadata"]
    assert meta["icc_profile"] and "sRGB" in meta["icc_profile"]


# --- video and audio tags ------------------------------------------------------------------


def _write_mp4(path: Path, tags: dict[str, str], options: dict[str, str] | None = None) -> Path:
    with av.open(str(path), "w", format="mp4", options=options or {}) as out:
        out.metadata.update(tags)
        vs = out.add_stream("mpeg4", rate=10)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        vs.metadata["handler_name"] = "Core Media Video"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def test_mp4_container_and_stream_tags(tmp_path: Path) -> None:
    path = _write_mp4(tmp_path / "clip.mp4", {"creation_time": "2024-05-01T10:00:00.000000Z", "title": "harbour"})
    prov = read_provenance(path, "video")
    meta = prov["metadata"]
    assert meta["format"].startswith("mov,mp4")
    assert meta["encoder"].startswith("Lavf")  # FFmpeg's muxer signs every file it writes
    assert meta["creation_time"].startswith("2024-05-01T10:00:00")
    assert meta["container_tags"]["title"] == "harbour"
    assert meta["handler_names"] == ["Core Media Video"]
    assert meta["streams"][0]["type"] == "video" and meta["streams"][0]["codec"] == "mpeg4"
    assert prov["c2pa"]["status"] == "absent" and prov["ai_metadata"] is False
    assert "Lavf" in prov["summary"]


def test_generator_software_tag_in_a_video(tmp_path: Path) -> None:
    path = _write_mp4(tmp_path / "gen.mp4", {"software": "OpenAI Sora"}, {"movflags": "use_metadata_tags"})
    prov = read_provenance(path, "video")
    assert "Sora" in _sources(prov)["tag:software"]["meaning"] and prov["ai_metadata"] is True


def test_wav_tags(tmp_path: Path) -> None:
    import media_factory

    path = media_factory.write_mono_wav(tmp_path / "voice.wav", np.zeros(1600, np.float32))
    prov = read_provenance(path, "audio")
    meta = prov["metadata"]
    assert meta["format"] == "wav" and meta["encoder"].startswith("Lavf")
    assert meta["streams"] == [{"index": 0, "type": "audio", "codec": "pcm_s16le", "tags": {}}]
    assert prov["errors"] == []


# --- evidence integrity and hostile input ----------------------------------------------------


def test_reading_changes_nothing(signed: dict[str, Path], tmp_path: Path, media_files: dict[str, Path]) -> None:
    png = tmp_path / "sd.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111)
    _rgb().save(png, pnginfo=info)
    cases = [(signed["ai_jpeg"], "image"), (signed["tampered_jpeg"], "image"), (png, "image"),
             (media_files["mp4"], "video"), (media_files["tone_44k_stereo.wav"], "audio")]
    for path, modality in cases:
        before = _fingerprint(path)
        read_provenance(path, modality)
        read_provenance(path)  # modality sniffed
        assert _fingerprint(path) == before, path


def _jpeg_with_app1(payload: bytes) -> bytes:
    buf = io.BytesIO()
    _rgb().save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def test_corrupt_exif_is_an_error_not_an_exception(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    path = tmp_path / "bad_exif.jpg"
    # a TIFF header whose IFD claims 5000 entries, followed by noise
    path.write_bytes(_jpeg_with_app1(b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 5000) + rng.bytes(300)))
    prov = read_provenance(path, "image")
    assert prov["metadata"]["format"] == "JPEG" and prov["metadata"]["exif_present"] is False
    assert any("EXIF" in e and "unparseable" in e for e in prov["errors"])
    json.dumps(prov)


def test_huge_text_chunks_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111 + " " + "z" * 5_000_000)
    _rgb().save(path, pnginfo=info)
    bomb = zlib.compress(b"a" * 40_000_000, 9)  # 40 MB of text in a ~40 kB zTXt chunk
    path.write_bytes(_insert_before_iend(path.read_bytes(), _png_chunk(b"zTXt", b"Comment\x00\x00" + bomb)))
    prov = read_provenance(path, "image")
    assert len(_sources(prov)["png:parameters"]["value"]) <= 300
    assert len(json.dumps(prov)) < 20_000
    assert prov["metadata"]["png_text_keys"] == ["Comment", "parameters"]


@pytest.mark.parametrize("name", [
    "empty", "text", "random_mp4", "random_jpg", "random_wav", "truncated_png", "truncated_jpeg",
    "truncated_mp4", "header_only_wav", "bomb_png", "bomb_gif", "png_as_wav", "mp3_cover",
])
def test_bad_and_odd_files_never_raise(media_files: dict[str, Path], name: str) -> None:
    for modality in (None, "image", "video", "audio"):
        prov = read_provenance(media_files[name], modality)
        assert set(prov) >= {"metadata", "generator_hints", "c2pa", "ai_metadata", "summary", "errors"}
        json.dumps(prov)
    if name in ("empty", "text", "random_mp4"):
        assert prov["errors"]  # recorded, not raised


def test_missing_file_is_recorded(tmp_path: Path) -> None:
    prov = read_provenance(tmp_path / "nope.jpg", "image")
    assert prov["errors"] and prov["c2pa"]["present"] is False
