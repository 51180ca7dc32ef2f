//! Signed KMS API calls (`TrentService`, SigV4 service `kms`).

/// Calls KMS operation `op` with `input` as the holder of `key`.
pub fn call(
    client: &reqwest::blocking::Client,
    base_url: &str,
    key: (&str, &str),
    region: &str,
    op: &str,
    input: &serde_json::Value,
) -> Result<serde_json::Value, (u16, serde_json::Value)> {
    crate::signed::json_call(
        client,
        base_url,
        &crate::signed::Signer {
            key,
            session_token: None,
            region,
            service: "kms",
        },
        &format!("TrentService.{op}"),
        input,
    )
}
