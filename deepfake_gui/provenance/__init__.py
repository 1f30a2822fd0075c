"""Metadata and provenance: EXIF/XMP/ICC, container tags, generator fingerprints, C2PA.

``read_provenance(path, modality)`` returns the JSON-able ``provenance`` object of
a scan result (its shape is documented there); ``provenance_disagreement`` gives
the caveat shown when that evidence and the detector verdict point opposite
ways. No Qt here, and nothing is written beside or into the evidence file.
"""

from deepfake_gui.provenance.read import provenance_disagreement, read_provenance

__all__ = ["provenance_disagreement", "read_provenance"]
