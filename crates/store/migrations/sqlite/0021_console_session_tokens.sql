-- A console session signed in with temporary credentials (an assumed
-- role's, or GetSessionToken's) keeps their session token, itself sealed
-- under the server key, to re-check them on each request.
ALTER TABLE console_sessions ADD COLUMN session_token TEXT;
