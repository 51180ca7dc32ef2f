-- SQLite's 0021: temporary credentials' session token of a console session.
ALTER TABLE console_sessions ADD COLUMN session_token TEXT;
