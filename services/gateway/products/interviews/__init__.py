"""The interview coach (seed 001): resume, knowledge set, interviews, questions, answers
transcribed and analysed, and the session report, every record owned by its user."""
