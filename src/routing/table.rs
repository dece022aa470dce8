//! The routing table: one `matchit::Router<usize>` entry per distinct path,
//! each pointing at a [`Route`] that holds a per-method table of endpoints.
//!
//! Everything here is plain Rust, generic over the endpoint `T` (a Python
//! app in production, a `&str` in the unit tests), so it is tested without
//! an interpreter.

use std::collections::HashMap;

use crate::errors::Error;

/// Quotes `s` the way Python's `repr()` quotes a simple `str`, for messages.
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.escape_debug())
}

/// The HTTP methods a route answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Methods {
    /// Any method (`methods=None`).
    Any,
    /// Exactly these methods: upper-case RFC 9110 §9.1 tokens, sorted, unique.
    Only(Vec<String>),
}

impl Methods {
    /// Validates and normalises the `methods=` argument: each name is upper-cased
    /// and must be a non-empty RFC 9110 §5.6.2 token; an empty list is refused
    /// (use `None` for any method).
    pub(crate) fn parse<I, S>(names: I) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            let name = name.as_ref();
            if !is_token(name) {
                return Err(Error::BadArgument {
                    name: "methods",
                    value: quote(name),
                    why: "a method must be a non-empty token of letters, digits or !#$%&'*+-.^_`|~ (RFC 9110 §9.1)",
                });
            }
            out.push(name.to_ascii_uppercase());
        }
        if out.is_empty() {
            return Err(Error::BadArgument {
                name: "methods",
                value: "[]".to_owned(),
                why: "name at least one method, or pass None for any method",
            });
        }
        out.sort_unstable();
        out.dedup();
        Ok(Self::Only(out))
    }

    /// How the methods read in a conflict message.
    fn describe(&self) -> String {
        match self {
            Self::Any => "any method".to_owned(),
            Self::Only(m) => m.join(", "),
        }
    }
}

/// RFC 9110 §5.6.2 `token`.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The endpoints registered under one path, by method.
#[derive(Debug)]
pub(crate) struct MethodTable<T> {
    /// The endpoint for `methods=None`; when set, `only` is empty.
    any: Option<T>,
    /// `(METHOD, index into endpoints)` in insertion order; a handful per
    /// path, so a linear scan beats hashing.
    only: Vec<(String, usize)>,
    /// One entry per `add` call with explicit methods (an app registered for
    /// GET and POST at once is stored once).
    endpoints: Vec<T>,
    /// The `Allow` value of a 405, rebuilt on each insert so a request
    /// only borrows it.
    allow: String,
}

impl<T> MethodTable<T> {
    fn new() -> Self {
        Self {
            any: None,
            only: Vec::new(),
            endpoints: Vec::new(),
            allow: String::new(),
        }
    }

    /// The methods already taken that `methods` would overlap, if any.
    fn overlap(&self, methods: &Methods) -> Option<Methods> {
        if self.any.is_some() {
            return Some(Methods::Any);
        }
        match methods {
            Methods::Any if self.only.is_empty() => None,
            Methods::Any => Some(Methods::Only(self.allowed_explicit())),
            Methods::Only(new) => {
                let taken: Vec<String> = new
                    .iter()
                    .filter(|m| self.only.iter().any(|(have, _)| have == *m))
                    .cloned()
                    .collect();
                (!taken.is_empty()).then_some(Methods::Only(taken))
            }
        }
    }

    fn insert(&mut self, methods: Methods, endpoint: T) {
        match methods {
            Methods::Any => self.any = Some(endpoint),
            Methods::Only(names) => {
                let index = self.endpoints.len();
                self.endpoints.push(endpoint);
                self.only
                    .extend(names.into_iter().map(|name| (name, index)));
            }
        }
        self.allow = self.build_allow();
    }

    /// The endpoint for `method`: an exact entry, else GET's for HEAD
    /// (RFC 9110 §9.3.2: HEAD is GET without the body, which the server
    /// strips), else the any-method endpoint. `None` means 405.
    pub(crate) fn get(&self, method: &str) -> Option<&T> {
        let index = |wanted: &str| {
            self.only
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|&(_, i)| i)
        };
        let found = match index(method) {
            None if method == "HEAD" => index("GET"),
            found => found,
        };
        match found {
            Some(i) => self.endpoints.get(i),
            None => self.any.as_ref(),
        }
    }

    fn allowed_explicit(&self) -> Vec<String> {
        let mut names: Vec<String> = self.only.iter().map(|(n, _)| n.clone()).collect();
        names.sort_unstable();
        names
    }

    /// The `Allow` header value of a 405 (RFC 9110 §15.5.6, §10.2.1): the
    /// registered methods plus HEAD when GET is there, sorted, joined by ", ".
    /// Computed when the methods change, not per request.
    pub(crate) fn allow_header(&self) -> &str {
        &self.allow
    }

    fn build_allow(&self) -> String {
        let mut names = self.allowed_explicit();
        if names.iter().any(|n| n == "GET") && !names.iter().any(|n| n == "HEAD") {
            names.push("HEAD".to_owned());
            names.sort_unstable();
        }
        names.join(", ")
    }

    /// The explicitly registered method names, in the order that
    /// [`MethodTable::explicit`] indexes them.
    pub(crate) fn explicit_names(&self) -> impl Iterator<Item = &str> {
        self.only.iter().map(|(name, _)| name.as_str())
    }

    /// The endpoint of the `i`-th name of [`MethodTable::explicit_names`].
    pub(crate) fn explicit(&self, i: usize) -> Option<&T> {
        let &(_, index) = self.only.get(i)?;
        self.endpoints.get(index)
    }

    /// Every endpoint, for the garbage collector.
    pub(crate) fn endpoints(&self) -> impl Iterator<Item = &T> {
        self.any.iter().chain(self.endpoints.iter())
    }
}

/// One distinct path and what answers it.
#[derive(Debug)]
pub struct Route<T> {
    /// The path as given to `add`, in matchit syntax.
    pub(crate) pattern: String,
    /// The endpoints by method.
    pub(crate) methods: MethodTable<T>,
}

/// Where `Table::insert` put an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inserted {
    /// Index of the route (stable for the table's life).
    pub(crate) route: usize,
    /// True when this call created the route (a path not seen before).
    pub(crate) new_route: bool,
}

/// All routes of a `Router`.
#[derive(Debug)]
pub struct Table<T> {
    matcher: matchit::Router<usize>,
    routes: Vec<Route<T>>,
    by_pattern: HashMap<String, usize>,
    names: HashMap<String, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            matcher: matchit::Router::new(),
            routes: Vec::new(),
            by_pattern: HashMap::new(),
            names: HashMap::new(),
        }
    }
}

impl<T> Table<T> {
    /// Adds `endpoint` under `pattern` (matchit syntax) for `methods`.
    ///
    /// Fails, leaving the table unchanged, when `pattern` does not start with
    /// `/`, is not valid matchit syntax or is refused by `pattern::check`
    /// (too many params, a brace in a param name, a name used twice), when
    /// `name` is taken, when the path
    /// is already registered with an overlapping method, or when matchit finds
    /// the path ambiguous next to an existing one (both are named).
    pub fn insert(
        &mut self,
        pattern: &str,
        methods: Methods,
        name: Option<&str>,
        endpoint: T,
    ) -> Result<Inserted, Error> {
        if !pattern.starts_with('/') {
            return Err(Error::BadArgument {
                name: "path",
                value: quote(pattern),
                why: "a route path must start with '/'",
            });
        }
        crate::routing::pattern::check(pattern)?;
        if let Some(name) = name {
            if self.names.contains_key(name) {
                return Err(Error::BadArgument {
                    name: "name",
                    value: quote(name),
                    why: "another route already has this name",
                });
            }
        }
        let inserted = if let Some(&id) = self.by_pattern.get(pattern) {
            let route = &mut self.routes[id];
            if let Some(taken) = route.methods.overlap(&methods) {
                return Err(Error::RouteConflict {
                    new: pattern.to_owned(),
                    existing: route.pattern.clone(),
                    why: format!(
                        "{} already registered for that path (asked for {})",
                        taken.describe(),
                        methods.describe()
                    ),
                });
            }
            route.methods.insert(methods, endpoint);
            Inserted {
                route: id,
                new_route: false,
            }
        } else {
            let id = self.routes.len();
            // A refused insert may split matchit nodes and bump priorities,
            // but matches exactly as before (pinned by the test
            // `failed_insert_leaves_the_table_usable`), so no rollback.
            if let Err(e) = self.matcher.insert(pattern, id) {
                return Err(self.insert_error(pattern, e));
            }
            let mut table = MethodTable::new();
            table.insert(methods, endpoint);
            self.routes.push(Route {
                pattern: pattern.to_owned(),
                methods: table,
            });
            self.by_pattern.insert(pattern.to_owned(), id);
            Inserted {
                route: id,
                new_route: true,
            }
        };
        if let Some(name) = name {
            self.names.insert(name.to_owned(), inserted.route);
        }
        Ok(inserted)
    }

    fn insert_error(&self, pattern: &str, e: matchit::InsertError) -> Error {
        let why = match e {
            matchit::InsertError::Conflict { with } => {
                return Error::RouteConflict {
                    new: pattern.to_owned(),
                    existing: self.registered_like(&with),
                    why: "matchit cannot tell them apart (see matchit's conflict rules)"
                        .to_owned(),
                };
            }
            matchit::InsertError::InvalidParamSegment => {
                "only one {param} is allowed per path segment (matchit)"
            }
            matchit::InsertError::InvalidParam => {
                "a {param} needs a name and matching braces; write {{ and }} for literal braces (matchit)"
            }
            matchit::InsertError::InvalidCatchAll => {
                "a {*catch_all} is only allowed at the end of the path (matchit)"
            }
            _ => "matchit refused this path",
        };
        Error::BadArgument {
            name: "path",
            value: quote(pattern),
            why,
        }
    }

    /// matchit reports a conflict by rebuilding the existing route's text
    /// from its tree, which is sometimes only a prefix of what was added:
    /// name the route the user actually wrote when one fits.
    fn registered_like(&self, with: &str) -> String {
        if self.by_pattern.contains_key(with) {
            return with.to_owned();
        }
        self.routes
            .iter()
            .find(|r| r.pattern.starts_with(with) || with.starts_with(r.pattern.as_str()))
            .map_or_else(|| with.to_owned(), |r| r.pattern.clone())
    }
}

impl<T> Table<T> {
    /// Looks `path` up: the route's index, the route and its params (names
    /// borrowed from the table, values from `path`), or `None` when no path
    /// matches.
    #[inline]
    pub fn at<'t, 'p>(
        &'t self,
        path: &'p str,
    ) -> Option<(usize, &'t Route<T>, matchit::Params<'t, 'p>)> {
        let m = self.matcher.at(path).ok()?;
        let id = *m.value;
        let route = self.routes.get(id)?;
        Some((id, route, m.params))
    }

    /// The pattern of the route called `name`.
    pub(crate) fn pattern_named(&self, name: &str) -> Option<&str> {
        let id = *self.names.get(name)?;
        self.routes.get(id).map(|r| r.pattern.as_str())
    }

    /// Every route, in insertion order.
    pub(crate) fn routes(&self) -> &[Route<T>] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(names: &[&str]) -> Methods {
        Methods::parse(names).unwrap()
    }

    /// Expected outcome of one insert: `Ok`, a conflict with the named
    /// existing path, or a bad argument named `name`.
    #[derive(Debug)]
    enum Want {
        Ok,
        Conflict(&'static str),
        Bad(&'static str),
    }

    /// Inserts each row in order and checks its outcome (matchit's `InsertTest`).
    struct InsertTest(Vec<(&'static str, Methods, Want)>);

    impl InsertTest {
        fn run(self) {
            let mut table = Table::default();
            for (i, (pattern, methods, want)) in self.0.into_iter().enumerate() {
                let got = table.insert(pattern, methods, None, i);
                match (&want, &got) {
                    (Want::Ok, Ok(_)) => {}
                    (Want::Conflict(with), Err(Error::RouteConflict { new, existing, .. }))
                        if new == pattern && existing == with => {}
                    (Want::Bad(arg), Err(Error::BadArgument { name, .. })) if name == arg => {}
                    _ => panic!("{pattern}: wanted {want:?}, got {got:?}"),
                }
            }
        }
    }

    #[test]
    fn inserts_and_conflicts() {
        use Methods::Any;
        InsertTest(vec![
            ("/users/{id}", only(&["GET"]), Want::Ok),
            ("/users/{id}", only(&["POST", "put"]), Want::Ok),
            ("/users/{id}", only(&["PUT"]), Want::Conflict("/users/{id}")),
            ("/users/{id}", Any, Want::Conflict("/users/{id}")),
            (
                "/users/{name}",
                only(&["DELETE"]),
                Want::Conflict("/users/{id}"),
            ),
            ("/users/me", Any, Want::Ok),
            ("/files/{*path}", Any, Want::Ok),
            (
                "/files/{*path}",
                only(&["GET"]),
                Want::Conflict("/files/{*path}"),
            ),
            ("/files/{name}", Any, Want::Conflict("/files/{*path}")),
            ("/files/{*rest}", Any, Want::Conflict("/files/{*path}")),
            ("/src/{file}", Any, Want::Ok),
            ("/src/{*all}", Any, Want::Conflict("/src/{file}")),
            ("/img-{id}.png", Any, Want::Ok),
            ("/", Any, Want::Ok),
            ("/{{literal}}", Any, Want::Ok),
            ("relative", Any, Want::Bad("path")),
            ("", Any, Want::Bad("path")),
            ("/a/{}", Any, Want::Bad("path")),
            ("/a/{x", Any, Want::Bad("path")),
            ("/a/{x}{y}", Any, Want::Bad("path")),
            ("/a/{*x}/b", Any, Want::Bad("path")),
        ])
        .run();
    }

    #[test]
    fn failed_insert_leaves_the_table_usable() {
        let mut table = Table::default();
        table.insert("/a/{id}", Methods::Any, None, 1).unwrap();
        table.insert("/a/b/c", Methods::Any, None, 2).unwrap();
        table.insert("/a/b/{x}", Methods::Any, None, 5).unwrap();
        // Each of these fails deep in matchit's tree, after it has split nodes.
        assert!(table.insert("/a/{*rest}", Methods::Any, None, 3).is_err());
        assert!(table.insert("/a/b/{*y}", Methods::Any, None, 3).is_err());
        table.insert("/a/b/e", Methods::Any, None, 4).unwrap();
        let (_, route, params) = table.at("/a/7").unwrap();
        assert_eq!(
            (route.pattern.as_str(), params.get("id")),
            ("/a/{id}", Some("7"))
        );
        assert_eq!(table.at("/a/b/c").unwrap().1.pattern, "/a/b/c");
        assert_eq!(table.at("/a/b/e").unwrap().1.pattern, "/a/b/e");
        assert_eq!(table.at("/a/b/zz").unwrap().1.pattern, "/a/b/{x}");
        assert!(table.at("/a/7/d").is_none());
        assert_eq!(table.routes().len(), 4);
    }

    #[test]
    fn conflict_message_names_both_paths() {
        let mut table = Table::default();
        table.insert("/users/{id}", Methods::Any, None, 0).unwrap();
        let err = table
            .insert("/users/{uid}", Methods::Any, None, 1)
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/users/{uid}") && msg.contains("/users/{id}"),
            "{msg}"
        );
    }

    #[test]
    fn names_are_unique() {
        let mut table = Table::default();
        table.insert("/a", Methods::Any, Some("a"), 0).unwrap();
        let err = table.insert("/b", Methods::Any, Some("a"), 1).unwrap_err();
        assert!(
            matches!(err, Error::BadArgument { name: "name", .. }),
            "{err:?}"
        );
        // The refused route was not added either.
        assert!(table.at("/b").is_none());
        assert_eq!(table.pattern_named("a"), Some("/a"));
        assert_eq!(table.pattern_named("b"), None);
    }

    #[test]
    fn methods_parse() {
        assert_eq!(
            Methods::parse(["get", "Post", "GET"]).unwrap(),
            only(&["GET", "POST"])
        );
        assert_eq!(Methods::parse(["M-SEARCH"]).unwrap(), only(&["M-SEARCH"]));
        for bad in ["", "GE T", "GET\r\n", "caf\u{e9}", "a/b"] {
            let err = Methods::parse([bad]).unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::BadArgument {
                        name: "methods",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        assert!(Methods::parse(Vec::<String>::new()).is_err());
    }

    #[test]
    fn method_dispatch() {
        // (registered, request method, expected endpoint)
        type Registered = &'static [(&'static [&'static str], u8)];
        let cases: &[(Registered, &str, Option<u8>)] = &[
            (&[(&["GET"], 1)], "GET", Some(1)),
            (&[(&["GET"], 1)], "HEAD", Some(1)),
            (&[(&["GET"], 1)], "POST", None),
            (&[(&["GET"], 1)], "get", None),
            (&[(&["GET"], 1), (&["HEAD"], 2)], "HEAD", Some(2)),
            (&[(&["POST"], 1)], "HEAD", None),
            (&[(&["GET", "POST"], 1), (&["DELETE"], 2)], "POST", Some(1)),
            (
                &[(&["GET", "POST"], 1), (&["DELETE"], 2)],
                "DELETE",
                Some(2),
            ),
        ];
        for (registered, method, want) in cases {
            let mut t = MethodTable::new();
            for (names, e) in *registered {
                t.insert(only(names), *e);
            }
            assert_eq!(t.get(method).copied(), *want, "{registered:?} {method}");
        }
        let mut any = MethodTable::new();
        any.insert(Methods::Any, 9);
        assert_eq!(any.get("BREW"), Some(&9));
        assert_eq!(any.get("HEAD"), Some(&9));
    }

    #[test]
    fn allow_header() {
        let cases: &[(&[&[&str]], &str)] = &[
            (&[&["GET"]], "GET, HEAD"),
            (&[&["POST"]], "POST"),
            (&[&["PUT"], &["DELETE", "GET"]], "DELETE, GET, HEAD, PUT"),
            (&[&["HEAD", "GET"]], "GET, HEAD"),
            (&[&["post"], &["OPTIONS"]], "OPTIONS, POST"),
        ];
        for (registered, want) in cases {
            let mut t = MethodTable::new();
            for names in *registered {
                t.insert(Methods::parse(names.iter()).unwrap(), ());
            }
            assert_eq!(t.allow_header(), *want);
        }
    }
}
