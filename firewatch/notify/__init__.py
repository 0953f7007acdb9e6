"""Alert delivery (`firewatch notify`): alert and camera-health events from the alerts topic to
people, over a signed webhook, Slack, Telegram and e-mail.

Pure parts (what a message says, where it goes, whether it is sent now, how a body is signed)
are separate from the thin I/O around them (channels, thumbnail, Pub/Sub pull and push).
"""
