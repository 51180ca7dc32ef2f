//! Property tests: every scheme is a total order on the versions its
//! ecosystem writes. A sorted list must be pairwise ordered (transitivity
//! and antisymmetry together: a comparator that breaks either leaves pairs
//! out of order after `sort_by`), and every version equals itself.

use std::cmp::Ordering;

use proptest::prelude::*;

use super::{Scheme, Version};

fn check_total_order(scheme: Scheme, texts: &[String]) -> Result<(), TestCaseError> {
    let mut vs: Vec<(String, Version)> = texts
        .iter()
        .filter_map(|t| scheme.parse(t).ok().map(|v| (t.clone(), v)))
        .collect();
    // The generators write only versions of the scheme; one that does not
    // parse would silently thin the property out.
    prop_assert_eq!(vs.len(), texts.len(), "unparsed among {:?}", texts);
    for (t, v) in &vs {
        prop_assert_eq!(v.partial_cmp(v), Some(Ordering::Equal), "{} != itself", t);
    }
    for (ta, a) in &vs {
        for (tb, b) in &vs {
            let ab = a.partial_cmp(b).unwrap();
            let ba = b.partial_cmp(a).unwrap();
            prop_assert_eq!(ab, ba.reverse(), "{} vs {}", ta, tb);
        }
    }
    vs.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
    for i in 0..vs.len() {
        for j in i + 1..vs.len() {
            prop_assert_ne!(
                vs[i].1.partial_cmp(&vs[j].1),
                Some(Ordering::Greater),
                "not transitive: {} sorted before {} in {:?}",
                vs[i].0,
                vs[j].0,
                vs.iter().map(|v| &v.0).collect::<Vec<_>>()
            );
        }
    }
    Ok(())
}

fn versions(re: &'static str) -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(proptest::string::string_regex(re).unwrap(), 2..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn dpkg_is_a_total_order(vs in versions("([0-3]:)?[0-9]{1,2}([.+~][0-9a-c]{1,2}){0,3}(~[a-c0-9]{0,2})?(-[0-9a-c.+~]{1,4})?")) {
        check_total_order(Scheme::Dpkg, &vs)?;
    }

    #[test]
    fn apk_is_a_total_order(vs in versions("[0-9]{1,2}(\\.0?[0-9]{1,2}){0,3}[a-c]?(_(alpha|beta|pre|rc|p|git)[0-9]{0,2}){0,2}(~[0-9a-f]{1,3})?(-r[0-9]{1,2})?")) {
        check_total_order(Scheme::Apk, &vs)?;
    }

    #[test]
    fn rpm_is_a_total_order(vs in versions("([0-2]:)?[0-9a-c]{1,2}([._~^][0-9a-c]{1,2}){0,3}(-[0-9a-c]{1,2}([.~^][0-9a-c]{1,2})?)?")) {
        check_total_order(Scheme::Rpm, &vs)?;
    }

    #[test]
    fn pep440_is_a_total_order(vs in versions("([0-2]!)?[0-9]{1,2}(\\.[0-9]{1,2}){0,2}((a|b|rc)[0-9])?(\\.post[0-9])?(\\.dev[0-9])?(\\+[a-c0-9]{1,2}(\\.[0-9]{1,2})?)?")) {
        check_total_order(Scheme::Pep440, &vs)?;
    }

    #[test]
    fn semver_is_a_total_order(vs in versions("(0|[1-9][0-9]?)\\.[0-9]\\.[0-9](-([1-9][0-9]?|[a-c]{1,2})(\\.([1-9]|[a-c]{1,2})){0,2})?(\\+[a-c0-9]{1,2})?")) {
        check_total_order(Scheme::SemVer, &vs)?;
    }

    #[test]
    fn go_is_a_total_order(vs in versions("v[0-2]\\.[0-9]\\.[0-9](-(0\\.)?20[12][0-9]{11}-[0-9a-f]{12}|-rc\\.[1-9])?(\\+incompatible)?")) {
        check_total_order(Scheme::Go, &vs)?;
    }

    #[test]
    fn apk_reads_every_generated_version_as_valid(v in "[0-9]{1,3}(\\.[0-9]{1,3}){0,3}[a-z]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,3}){0,2}(~[0-9a-f]{1,8})?(-r[0-9]{1,3})?") {
        prop_assert!(super::apk::is_valid(&v), "{}", v);
    }
}
