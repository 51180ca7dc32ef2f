//! The parts of OCI distribution v1.1 beyond a docker push and pull, over
//! HTTP against a real berth: sha512, byte ranges, deletes by tag,
//! referrers, mounts, and uploads resumed across a restart.

use crate::common::*;
use berth_oci::{Algorithm, Digest};
use image::{sha256, OCI_INDEX, OCI_MANIFEST};

fn sha512(bytes: &[u8]) -> String {
    Digest::of_bytes(Algorithm::Sha512, bytes).to_string()
}

#[test]
fn sha512_blobs_and_manifests_round_trip_with_their_own_digest() {
    let s = start();
    let api = Api::new(&s);
    let c = &api.client;
    // Monolithic.
    let layer = image::random_bytes(5, 200_000);
    let ld = sha512(&layer);
    let r = c
        .post(api.url(&format!("/v2/five/blobs/uploads/?digest={ld}")))
        .body(layer.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "docker-content-digest"), ld);
    // Chunked: the session learns the algorithm at the end.
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let cd = sha512(&config);
    let r = c.post(api.url("/v2/five/blobs/uploads/")).send().unwrap();
    let loc = header(&r, "location");
    let r = c
        .patch(api.url(&loc))
        .header("content-range", format!("0-{}", config.len() / 2 - 1))
        .body(config[..config.len() / 2].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = header(&r, "location");
    let r = c
        .put(api.url(&format!("{loc}?digest={cd}")))
        .body(config[config.len() / 2..].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text());
    let g = api.get(&format!("/v2/five/blobs/{ld}"));
    assert_eq!(header(&g, "docker-content-digest"), ld);
    assert_eq!(&g.bytes().unwrap()[..], &layer[..]);

    // A manifest pushed by its sha512 digest is served under it.
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len() },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": layer.len() }],
    }))
    .unwrap();
    let md = sha512(&manifest);
    let r = api.put_manifest("five", &md, OCI_MANIFEST, &manifest);
    assert_eq!(r.status(), 201, "{:?}", r.text());
    assert_eq!(header(&r, "docker-content-digest"), md);
    let g = api.get(&format!("/v2/five/manifests/{md}"));
    assert_eq!(g.status(), 200);
    assert_eq!(header(&g, "docker-content-digest"), md);
    assert_eq!(&g.bytes().unwrap()[..], &manifest[..]);
    // The wrong sha512 for a body is DIGEST_INVALID.
    let r = api.put_manifest("five", &sha512(b"else"), OCI_MANIFEST, &manifest);
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
    // A sha512 with a sha256-length encoding is malformed, not a 500.
    let r = api.get(&format!("/v2/five/blobs/sha512:{}", &sha256(b"x")[7..]));
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
}

#[test]
fn blob_ranges_answer_206_or_416_never_a_truncated_body() {
    let s = start();
    let api = Api::new(&s);
    let data = image::random_bytes(9, 100_000);
    let d = api.push_blob("ranges", &data);
    let path = format!("/v2/ranges/blobs/{d}");
    let get = |range: &str| {
        api.client
            .get(api.url(&path))
            .header("range", range)
            .send()
            .unwrap()
    };
    for (range, first, last) in [
        ("bytes=0-99", 0, 99),
        ("bytes=99990-", 99_990, 99_999),
        ("bytes=-10", 99_990, 99_999),
        ("bytes=50000-200000", 50_000, 99_999),
    ] {
        let r = get(range);
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(
            header(&r, "content-range"),
            format!("bytes {first}-{last}/100000")
        );
        assert_eq!(header(&r, "content-length"), (last - first + 1).to_string());
        assert_eq!(&r.bytes().unwrap()[..], &data[first..=last], "{range}");
    }
    for range in [
        "bytes=500-0",
        "bytes=100000-",
        "bytes=200000-300000",
        "bytes=-0",
        "bytes=x-y",
    ] {
        let r = get(range);
        assert_eq!(r.status(), 416, "{range}");
        assert_eq!(header(&r, "content-range"), "bytes */100000");
        assert_eq!(error_code(r), "SIZE_INVALID");
    }
    // Several ranges, or an If-Range for another representation: the whole blob.
    let r = get("bytes=0-1,5-6");
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap().len(), 100_000);
    let r = api
        .client
        .get(api.url(&path))
        .header("range", "bytes=0-9")
        .header("if-range", "\"sha256:other\"")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = api
        .client
        .get(api.url(&path))
        .header("range", "bytes=0-9")
        .header("if-range", format!("\"{d}\""))
        .send()
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(header(&api.get(&path), "accept-ranges"), "bytes");
}

#[test]
fn deleting_by_tag_untags_and_drops_an_image_left_without_tags() {
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(3, 1, 2, 1000);
    api.push_image("del", &img, "v1");
    let r = api.put_manifest("del", "v2", OCI_MANIFEST, &img.manifest);
    assert_eq!(r.status(), 201);
    let delete = |reference: &str| {
        api.client
            .delete(api.url(&format!("/v2/del/manifests/{reference}")))
            .send()
            .unwrap()
    };
    assert_eq!(delete("v1").status(), 202);
    assert_eq!(api.get("/v2/del/manifests/v1").status(), 404);
    let by_digest = format!("/v2/del/manifests/{}", img.manifest_digest);
    assert_eq!(api.get(&by_digest).status(), 200, "still tagged v2");
    assert_eq!(delete("v2").status(), 202);
    let r = api.get(&by_digest);
    assert_eq!(r.status(), 404, "the last tag took the image with it");
    assert_eq!(error_code(r), "MANIFEST_UNKNOWN");
    let r = delete("v2");
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r), "MANIFEST_UNKNOWN");
    let tags: serde_json::Value = api.get("/v2/del/tags/list").json().unwrap();
    assert_eq!(tags["tags"], serde_json::json!([]));

    // A blob that a manifest uses cannot be deleted from under it.
    api.push_image("del", &img, "v3");
    let r = api
        .client
        .delete(api.url(&format!("/v2/del/blobs/{}", img.layers[0].digest)))
        .send()
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r), "DENIED");

    // A blob DELETE unlinks it from the repository only.
    let d = api.push_blob("del", b"loose");
    api.push_blob("del-other", b"loose");
    let r = api
        .client
        .delete(api.url(&format!("/v2/del/blobs/{d}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(api.head(&format!("/v2/del/blobs/{d}")).status(), 404);
    assert_eq!(api.head(&format!("/v2/del-other/blobs/{d}")).status(), 200);
}

#[test]
fn referrers_are_listed_filtered_and_need_no_subject() {
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(4, 1, 1, 100);
    let empty = api.push_blob("app", b"{}");
    // The referrer is pushed before its subject: allowed.
    let mut referrers = Vec::new();
    for (kind, note) in [
        ("application/vnd.example.signature", "sig"),
        ("application/vnd.example.sbom", "sbom"),
    ] {
        let m = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": kind,
            "config": { "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 },
            "layers": [{ "mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2 }],
            "subject": { "mediaType": OCI_MANIFEST, "digest": img.manifest_digest, "size": img.manifest.len() },
            "annotations": { "org.example.note": note },
        }))
        .unwrap();
        let d = sha256(&m);
        let r = api.put_manifest("app", &d, OCI_MANIFEST, &m);
        assert_eq!(r.status(), 201, "{:?}", r.text());
        assert_eq!(header(&r, "oci-subject"), img.manifest_digest);
        referrers.push((d, m.len(), kind));
    }
    api.push_image("app", &img, "v1");

    let path = format!("/v2/app/referrers/{}", img.manifest_digest);
    let r = api.get(&path);
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), OCI_INDEX);
    assert!(r.headers().get("oci-filters-applied").is_none());
    let index: serde_json::Value = r.json().unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert_eq!(index["mediaType"], OCI_INDEX);
    let listed = index["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for (d, size, kind) in &referrers {
        let m = listed.iter().find(|m| m["digest"] == *d).expect("listed");
        assert_eq!(m["size"], *size);
        assert_eq!(m["artifactType"], *kind);
        assert_eq!(m["mediaType"], OCI_MANIFEST);
        assert!(m["annotations"]["org.example.note"].is_string());
    }
    let r = api.get(&format!("{path}?artifactType=application/vnd.example.sbom"));
    assert_eq!(header(&r, "oci-filters-applied"), "artifactType");
    let index: serde_json::Value = r.json().unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(index["manifests"][0]["digest"], referrers[1].0);

    // No referrers, or no such repository: an empty index, never a 404.
    for p in [
        format!("/v2/app/referrers/{}", sha256(b"nothing")),
        format!("/v2/nowhere/referrers/{}", img.manifest_digest),
    ] {
        let r = api.get(&p);
        assert_eq!(r.status(), 200, "{p}");
        let index: serde_json::Value = r.json().unwrap();
        assert_eq!(index["manifests"], serde_json::json!([]));
    }
    let r = api.get("/v2/app/referrers/sha256:123");
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
}

#[test]
fn manifests_with_foreign_layers_need_not_have_them() {
    let s = start();
    let api = Api::new(&s);
    let config = api.push_blob("win", br#"{"os":"windows"}"#);
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": { "mediaType": "application/vnd.docker.container.image.v1+json", "digest": config, "size": 16 },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            "digest": sha256(b"not here"), "size": 12345,
            "urls": ["https://example.com/layer"]
        }],
    }))
    .unwrap();
    let r = api.put_manifest(
        "win",
        "v1",
        "application/vnd.docker.distribution.manifest.v2+json",
        &m,
    );
    assert_eq!(r.status(), 201, "{:?}", r.text());
}

#[test]
fn mounts_link_or_fall_back_to_an_upload_session() {
    let s = start();
    let api = Api::new(&s);
    let c = &api.client;
    let d = api.push_blob("src", b"mountable");
    let post = |q: &str| {
        c.post(api.url(&format!("/v2/dst/blobs/uploads/{q}")))
            .send()
            .unwrap()
    };
    let r = post(&format!("?mount={d}&from=src"));
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "location"), format!("/v2/dst/blobs/{d}"));
    assert_eq!(header(&r, "docker-content-digest"), d);
    assert_eq!(api.head(&format!("/v2/dst/blobs/{d}")).status(), 200);
    // Unknown blob, unknown or invalid source, no `from`: a session (202).
    let unknown = sha256(b"unknown");
    for q in [
        format!("?mount={unknown}&from=src"),
        format!("?mount={d}&from=nowhere"),
        format!("?mount={d}&from=INVALID"),
        format!("?mount={d}"),
    ] {
        let r = post(&q);
        assert_eq!(r.status(), 202, "{q}");
        assert!(header(&r, "location").starts_with("/v2/dst/blobs/uploads/"));
        assert_eq!(header(&r, "range"), "0-0");
    }
    // sha512 mounts too.
    let d512 = sha512(b"wide");
    let r = c
        .post(api.url(&format!("/v2/src/blobs/uploads/?digest={d512}")))
        .body("wide")
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(post(&format!("?mount={d512}&from=src")).status(), 201);
}

#[test]
fn a_chunked_upload_resumes_after_a_restart() {
    let mut s = start();
    let data = image::random_bytes(11, 3_000_000);
    let d = sha256(&data);
    let (loc, sent) = {
        let api = Api::new(&s);
        let r = api
            .client
            .post(api.url("/v2/resume/blobs/uploads/"))
            .send()
            .unwrap();
        let loc = header(&r, "location");
        let r = api
            .client
            .patch(api.url(&loc))
            .header("content-range", "0-1999999")
            .body(data[..2_000_000].to_vec())
            .send()
            .unwrap();
        assert_eq!(r.status(), 202);
        (header(&r, "location"), 2_000_000)
    };
    s.restart();
    let api = Api::new(&s);
    // The client asks where it stands, then sends the rest.
    let r = api.get(&loc);
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "range"), format!("0-{}", sent - 1));
    // A closing PUT whose chunk is not the next one is refused like a PATCH.
    let r = api
        .client
        .put(api.url(&format!("{loc}?digest={d}")))
        .header("content-range", format!("0-{}", data.len() - 1))
        .body(data.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "range"), format!("0-{}", sent - 1));
    // The refused request's body was not read, so the server closes that
    // connection; a fresh client does not race the close.
    let api = Api::new(&s);
    let r = api
        .client
        .patch(api.url(&loc))
        .header("content-range", format!("{sent}-{}", data.len() - 1))
        .body(data[sent..].to_vec())
        .send()
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = api
        .client
        .put(api.url(&format!("{}?digest={d}", header(&r, "location"))))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        &api.get(&format!("/v2/resume/blobs/{d}")).bytes().unwrap()[..],
        &data[..]
    );
}

/// A manifest reference that is neither a tag nor a digest (the OCI
/// conformance suite's `.INVALID_MANIFEST_NAME`) names no manifest: reads
/// and deletes answer 404 `MANIFEST_UNKNOWN` as for any manifest that is not
/// there (`NAME_UNKNOWN` when the repository is not there either); a `PUT`
/// under it is refused with 400. Callers without rights get 403 first
/// (`protected_requests` lists these routes for the authorization tests).
#[test]
fn a_reference_that_is_neither_tag_nor_digest_names_no_manifest() {
    let s = start();
    let api = Api::new(&s);
    let img = image::oci_image(9, 1, 1, 100);
    api.push_image("refs", &img, "v1");
    for reference in [".INVALID_MANIFEST_NAME", "-bad", "sha256:123", "md5:abc"] {
        for method in ["GET", "HEAD", "DELETE"] {
            let r = api
                .client
                .request(
                    method.parse().unwrap(),
                    api.url(&format!("/v2/refs/manifests/{reference}")),
                )
                .send()
                .unwrap();
            assert_eq!(r.status(), 404, "{method} {reference}");
            if method != "HEAD" {
                assert_eq!(error_code(r), "MANIFEST_UNKNOWN", "{method} {reference}");
            }
            let r = api
                .client
                .request(
                    method.parse().unwrap(),
                    api.url(&format!("/v2/nowhere/manifests/{reference}")),
                )
                .send()
                .unwrap();
            assert_eq!(r.status(), 404, "{method} {reference}");
            if method != "HEAD" {
                assert_eq!(error_code(r), "NAME_UNKNOWN", "{method} {reference}");
            }
        }
    }
    let r = api.put_manifest(
        "refs",
        ".INVALID_MANIFEST_NAME",
        OCI_MANIFEST,
        &img.manifest,
    );
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "TAG_INVALID");
    let r = api.put_manifest("refs", "sha256:123", OCI_MANIFEST, &img.manifest);
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "DIGEST_INVALID");
    assert_eq!(
        api.get("/v2/refs/manifests/v1").status(),
        200,
        "nothing deleted"
    );
}

/// `Content-Range: 0-18446744073709551615` claims 2^64 bytes; `end - start +
/// 1` wrapped to 0, so with an empty body the closing `PUT` answered 201
/// (issue 17). Every such claim is 416, and a claim whose bytes never came
/// is 400; the session survives both.
#[test]
fn content_ranges_are_counted_without_wrapping() {
    let s = start();
    let api = Api::new(&s);
    let c = &api.client;
    let empty = sha256(b"");
    let r = c.post(api.url("/v2/wrap/blobs/uploads/")).send().unwrap();
    let loc = header(&r, "location");
    for method in ["PATCH", "PUT"] {
        let r = c
            .request(
                method.parse().unwrap(),
                api.url(&format!("{loc}?digest={empty}")),
            )
            .header("content-range", "0-18446744073709551615")
            .header("content-length", "0")
            .send()
            .unwrap();
        assert_eq!(r.status(), 416, "{method}");
        assert_eq!(header(&r, "range"), "0-0", "{method}");
        assert_eq!(error_code(r), "BLOB_UPLOAD_INVALID", "{method}");
    }
    let r = c
        .put(api.url(&format!("{loc}?digest={empty}")))
        .header("content-range", "0-9")
        .header("content-length", "0")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r), "BLOB_UPLOAD_INVALID");
    assert_eq!(api.head(&format!("/v2/wrap/blobs/{empty}")).status(), 404);
    let r = c
        .put(api.url(&format!("{loc}?digest={empty}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201, "the session survived the refusals");
}
