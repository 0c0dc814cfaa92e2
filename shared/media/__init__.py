"""ffprobe and ffmpeg, with every failure turned into a PipelineError with a reason."""
