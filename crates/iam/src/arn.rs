//! ECR repository ARNs, `arn:<partition>:ecr:<region>:<account>:repository/<name>`:
//! the only resource ECR's policies and resource tags name. One parser, so
//! that the resource an operation is authorized on and the resource it then
//! acts on cannot differ.

/// The parts of a repository ARN; the name is not checked against the
/// repository-name grammar (callers report that with their own wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepositoryArn<'a> {
    pub partition: &'a str,
    /// `ecr`, or `ecr-public` (whose ARNs have no region).
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub name: &'a str,
}

impl<'a> RepositoryArn<'a> {
    /// `None` unless `arn` has the shape, an `aws*` partition, a region
    /// name (`[a-z0-9-]`: never the public registries' `@public`), a
    /// 12-digit account and a non-empty name.
    pub fn parse(arn: &'a str) -> Option<RepositoryArn<'a>> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let name = rest.strip_prefix("repository/")?;
        let region_ok = match service {
            "ecr" => {
                (1..=32).contains(&region.len())
                    && region
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            }
            "ecr-public" => region.is_empty(),
            _ => false,
        };
        let ok = partition.starts_with("aws")
            && region_ok
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty();
        ok.then_some(RepositoryArn {
            partition,
            service,
            region,
            account,
            name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RepositoryArn;

    #[test]
    fn public_repository_arns_have_no_region() {
        let a = RepositoryArn::parse("arn:aws:ecr-public::123456789012:repository/app").unwrap();
        assert_eq!((a.service, a.region, a.name), ("ecr-public", "", "app"));
        assert!(
            RepositoryArn::parse("arn:aws:ecr-public:us-east-1:123456789012:repository/app")
                .is_none()
        );
        assert!(RepositoryArn::parse("arn:aws:ecr::123456789012:repository/app").is_none());
        assert!(RepositoryArn::parse("arn:aws:ecr:@public:123456789012:repository/app").is_none());
    }

    #[test]
    fn repository_arns_parse_and_others_do_not() {
        let a =
            RepositoryArn::parse("arn:aws:ecr:eu-west-1:123456789012:repository/team/app").unwrap();
        assert_eq!(
            (a.partition, a.region, a.account, a.name),
            ("aws", "eu-west-1", "123456789012", "team/app")
        );
        for bad in [
            "",
            "arn:aws:ecr:@public:123456789012:repository/app",
            "arn:aws:ecr:eu-west-1:123456789012:repository/",
            "arn:aws:ecr:eu-west-1:12345:repository/x",
            "arn:aws:s3:eu-west-1:123456789012:repository/x",
            "arn:gcp:ecr:eu-west-1:123456789012:repository/x",
            "arn:aws:ecr::123456789012:repository/x",
            "arn:aws:ecr:eu-west-1:123456789012:image/x",
            "arn:aws:ecr:eu-west-1:123456789012",
        ] {
            assert_eq!(RepositoryArn::parse(bad), None, "{bad}");
        }
    }
}
