"""Decoding of images, video and audio to numpy.

Everything here streams: a video is never held in memory whole. All failures
raise :class:`deepfake_gui.core.errors.MediaError` with a message naming the file.
"""

from deepfake_gui.media.audio import AudioWindow, iter_audio_windows, load_audio
from deepfake_gui.media.image import iter_image_frames, load_image
from deepfake_gui.media.probe import MediaInfo, probe
from deepfake_gui.media.video import VideoFrame, iter_video_frames, read_frame_at

__all__ = [
    "AudioWindow",
    "MediaInfo",
    "VideoFrame",
    "iter_audio_windows",
    "iter_image_frames",
    "iter_video_frames",
    "load_audio",
    "load_image",
    "probe",
    "read_frame_at",
]
