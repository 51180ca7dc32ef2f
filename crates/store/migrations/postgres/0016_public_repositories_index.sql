-- The gallery lists public repositories (region '@public') of every
-- account: this index holds only those, so a search reads them alone.
CREATE INDEX repositories_public ON repositories (name, account_id) WHERE region = '@public';
