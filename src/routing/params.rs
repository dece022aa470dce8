//! A route's param values, cut straight out of the path that matched it.
//!
//! matchit hands out param values only through `Params::iter`/`get`, which
//! run `str::from_utf8` over every key and value on each access (matchit
//! 0.9.2 `params.rs`: it slices bytes so as not to need `unsafe`). The path
//! is already a `&str`, so that check can never fail, and on the GitHub table
//! it costs ~240 of the router's instructions per hit.
//!
//! When each of a route's params runs to the next `/` or to the end of the
//! path (`/users/{id}/posts`, `/files/{*path}`: the common shape), its value
//! sits right after the route's literal text, whose length is known at `add`
//! time. So a matched path is cut with no matchit call at all: skip the
//! literal, take bytes up to the next `/` (or the rest, for a catch-all),
//! repeat. `str::get` checks the two char boundaries of each value (O(1)),
//! never the bytes between. A route with a param followed by more text in its
//! segment (`/{name}.png`) has no such plan and asks matchit.

use crate::routing::pattern::{parts, Part};

/// One param of a [`ValuePlan`]: the literal text before it, in bytes, and
/// whether it takes the rest of the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    skip: usize,
    catch_all: bool,
}

/// How to find a route's param values in a path that matched the route;
/// made once per route at `add` time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValuePlan(Option<Box<[Step]>>);

impl ValuePlan {
    /// The plan for `pattern` (matchit syntax, already accepted by matchit).
    pub(crate) fn new(pattern: &str) -> Self {
        let parts = parts(pattern);
        let mut steps = Vec::new();
        let mut skip = 0;
        for (i, part) in parts.iter().enumerate() {
            let catch_all = match part {
                // Unescaped (`{{` -> `{`): the bytes matchit compares with the path.
                Part::Literal(text) => {
                    skip += text.len();
                    continue;
                }
                Part::Param(_) => false,
                Part::CatchAll(_) => true,
            };
            // A param ends at the next `/` only when a `/` or the end of the
            // pattern follows it; a catch-all is matchit's last part anyway.
            let ends_at_slash = match parts.get(i + 1) {
                None => true,
                Some(Part::Literal(text)) => !catch_all && text.starts_with('/'),
                Some(_) => false,
            };
            if !ends_at_slash {
                return Self(None);
            }
            steps.push(Step { skip, catch_all });
            skip = 0;
        }
        Self(Some(steps.into()))
    }

    /// Calls `each(key, value)` for the route's params in pattern order:
    /// `keys` are the route's param keys in that order, and each value is cut
    /// from `path`, which must be a path matchit matched to this route.
    ///
    /// Returns `Ok(false)`, possibly after some calls, when the route has no
    /// plan, `keys` is not one per param, or `path` does not fit the plan
    /// (which a path matchit matched to the route cannot do): the caller then
    /// takes the values from matchit.
    ///
    /// # Errors
    /// The first error `each` returns.
    #[inline]
    pub(crate) fn cut<'p, K, E>(
        &self,
        path: &'p str,
        keys: &[K],
        mut each: impl FnMut(&K, &'p str) -> Result<(), E>,
    ) -> Result<bool, E> {
        let Some(steps) = &self.0 else {
            return Ok(false);
        };
        if steps.len() != keys.len() {
            return Ok(false);
        }
        let bytes = path.as_bytes();
        let mut pos = 0;
        for (step, key) in steps.iter().zip(keys) {
            let start = pos + step.skip;
            let Some(rest) = bytes.get(start..) else {
                return Ok(false);
            };
            let end = if step.catch_all {
                bytes.len()
            } else {
                start + rest.iter().position(|&b| b == b'/').unwrap_or(rest.len())
            };
            let Some(value) = path.get(start..end) else {
                return Ok(false);
            };
            each(key, value)?;
            pos = end;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values `plan` cuts from `path`, or `None` when it defers to matchit.
    fn cut<'p>(plan: &ValuePlan, pattern: &str, path: &'p str) -> Option<Vec<&'p str>> {
        let keys = crate::routing::pattern::param_names(pattern);
        let mut got = Vec::new();
        let done = plan
            .cut(path, &keys, |key, v| {
                assert_eq!(key, &keys[got.len()]);
                got.push(v);
                Ok::<(), ()>(())
            })
            .unwrap();
        done.then_some(got)
    }

    /// matchit's own values for `path` under `pattern`, in its order.
    fn matchit_values(pattern: &str, path: &str) -> Vec<String> {
        let mut router = matchit::Router::new();
        router.insert(pattern, ()).unwrap();
        let m = router.at(path).unwrap();
        m.params.iter().map(|(_, v)| v.to_owned()).collect()
    }

    #[test]
    fn cuts_what_matchit_matches() {
        // (pattern, path): every one cut by the plan, equal to matchit's values
        let cases = [
            ("/static", "/static"),
            ("/users/{id}", "/users/42"),
            (
                "/repos/{owner}/{repo}/issues/{number}",
                "/repos/o/r/issues/7",
            ),
            ("/{a}/{b}/{c}/{d}", "/w/x/y/z"),
            ("/files/{*path}", "/files/a/b/c.txt"),
            ("/{*rest}", "/x/"),
            ("/a/{x}/{*rest}", "/a/1/2/3"),
            ("/img-{id}/raw", "/img-9/raw"),
            ("/lit{{b}}/{x}", "/lit{b}/v"),
            ("/caf\u{e9}/{x}", "/caf\u{e9}/\u{1f44d}\u{1f3fd}"),
            ("/users/{id}/", "/users/42/"),
        ];
        for (pattern, path) in cases {
            let plan = ValuePlan::new(pattern);
            let want = matchit_values(pattern, path);
            let want: Vec<&str> = want.iter().map(String::as_str).collect();
            assert_eq!(cut(&plan, pattern, path), Some(want), "{pattern} {path}");
        }
    }

    #[test]
    fn a_param_with_text_after_it_in_its_segment_asks_matchit() {
        for pattern in ["/{name}.png", "/x/{name}.tar.gz/y", "/{id}-{slug}"] {
            assert_eq!(ValuePlan::new(pattern), ValuePlan(None), "{pattern}");
            assert_eq!(cut(&ValuePlan::new(pattern), pattern, "/a.png"), None);
        }
    }

    #[test]
    fn a_path_that_does_not_fit_asks_matchit() {
        // not a path matchit would have matched to the route: never panics
        let plan = ValuePlan::new("/users/{id}");
        assert_eq!(cut(&plan, "/users/{id}", "/u"), None);
        let plan = ValuePlan::new("/abc/{x}");
        assert_eq!(cut(&plan, "/abc/{x}", "/a\u{1f44d}"), None); // byte 5 is inside the 4-byte emoji
                                                                 // keys that are not one per param
        assert_eq!(
            plan.cut("/abc/x", &["x", "y"], |_, _| Ok::<(), ()>(())),
            Ok(false)
        );
    }

    #[test]
    fn an_error_from_each_stops_the_cut() {
        let plan = ValuePlan::new("/{a}/{b}");
        let mut seen = 0;
        let got = plan.cut("/x/y", &["a", "b"], |_, _| {
            seen += 1;
            Err("stop")
        });
        assert_eq!((got, seen), (Err("stop"), 1));
    }

    /// One pattern segment: a literal, a `{param}`, or a param with text
    /// after it in its segment (no plan: matchit answers).
    fn segment() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        prop_oneof![
            prop::sample::select(vec!["a", "b", "users", "caf\u{e9}", "x{{y}}", ""])
                .prop_map(str::to_owned),
            Just("{p}".to_owned()),
            Just("{p}.png".to_owned()),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 300, failure_persistence: None, ..Default::default()
        })]

        /// A router of random patterns; for each, a path filled in from it.
        /// Whatever route matchit picks for the path, the plan of that route
        /// cuts exactly matchit's values (or defers to matchit).
        #[test]
        fn cut_equals_matchit_on_random_routes(
            patterns in proptest::collection::vec(
                (proptest::collection::vec(segment(), 1..5), proptest::bool::ANY), 1..8),
            values in proptest::collection::vec("[a-z0-9\u{e9}._~-]{1,4}", 8),
            rest in "[a-z0-9\u{e9}/]{1,8}",
        ) {
            let mut router = matchit::Router::new();
            let mut inserted: Vec<(String, String)> = Vec::new();
            for (segs, catch_all) in &patterns {
                let mut n = 0;
                let mut pattern = String::new();
                let mut path = String::new();
                for seg in segs {
                    let value = &values[n % values.len()];
                    let named = seg.replace("{p}", &format!("{{p{n}}}"));
                    n += usize::from(seg.contains("{p}"));
                    pattern.push('/');
                    pattern.push_str(&named);
                    path.push('/');
                    path.push_str(&seg.replace("{p}", value).replace("{{", "{").replace("}}", "}"));
                }
                if *catch_all {
                    pattern.push_str("/{*rest}");
                    path.push('/');
                    path.push_str(&rest);
                }
                if router.insert(pattern.as_str(), inserted.len()).is_ok() {
                    inserted.push((pattern, path));
                }
            }
            for (_, path) in &inserted {
                let Ok(m) = router.at(path) else { continue };
                let pattern = &inserted[*m.value].0;
                let want: Vec<&str> = m.params.iter().map(|(_, v)| v).collect();
                let plan = ValuePlan::new(pattern);
                match cut(&plan, pattern, path) {
                    Some(got) => proptest::prop_assert_eq!(got, want, "{} {}", pattern, path),
                    None => proptest::prop_assert!(plan.0.is_none(), "{} {}: did not fit", pattern, path),
                }
            }
        }
    }
}
