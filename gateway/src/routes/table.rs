//! Which route a request takes: the most specific of those whose host and path match; a path
//! that some route matches but not with this method is a 405 naming the methods that would do.

use std::collections::BTreeSet;

use switchyard_broker::records::{PathMatch, Route, Segment};

/// What matching a request against the routes found.
#[derive(Debug, PartialEq)]
pub enum Matched {
    /// This route (a copy of it: only the winner is copied), with the path parameters' values.
    Route(Box<Route>, Vec<(String, String)>),
    /// Routes match the host and path, none the method: these methods would.
    WrongMethod(BTreeSet<String>),
    NotFound,
}

/// The route for `method host path` among `routes`. `host` is the request's host name, lower
/// case, without a port.
pub fn find<'a>(
    routes: impl IntoIterator<Item = &'a Route>,
    method: &str,
    host: &str,
    path: &str,
) -> Matched {
    let request: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut best: Option<Candidate> = None;
    let mut other_methods = BTreeSet::new();
    for route in routes {
        let Some(host_rank) = host_rank(&route.hosts, host) else {
            continue;
        };
        let segments = route.segments();
        let Some(params) = match_path(&segments, route.path_match, &request) else {
            continue;
        };
        if !route.allows(method) {
            other_methods.extend(route.methods.iter().cloned());
            continue;
        }
        let rank = Specificity {
            host: host_rank,
            exact: route.path_match == PathMatch::Exact,
            literals: segments
                .iter()
                .filter(|s| matches!(s, Segment::Literal(_)))
                .count(),
            segments: segments.len(),
            any_method: std::cmp::Reverse(route.methods.is_empty()),
        };
        if best.as_ref().is_none_or(|(b, _, _)| rank > *b) {
            best = Some((rank, route, params));
        }
    }
    match best {
        Some((_, route, params)) => Matched::Route(Box::new(route.clone()), params),
        None if !other_methods.is_empty() => {
            if other_methods.contains("GET") {
                other_methods.insert("HEAD".to_string());
            }
            other_methods.insert("OPTIONS".to_string());
            Matched::WrongMethod(other_methods)
        }
        None => Matched::NotFound,
    }
}

/// A matching route, its rank and its parameters.
type Candidate<'a> = (Specificity, &'a Route, Vec<(String, String)>);

/// Orders matching routes: a named host over a wildcard over any; an exact path over a
/// prefix; more literal segments over parameters; deeper over shallower; named methods over
/// any.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    host: u8,
    exact: bool,
    literals: usize,
    segments: usize,
    any_method: std::cmp::Reverse<bool>,
}

/// 2 for a named host, 1 for a wildcard, 0 for a route of any host; `None` if it does not
/// answer `host`.
fn host_rank(hosts: &[String], host: &str) -> Option<u8> {
    if hosts.is_empty() {
        return Some(0);
    }
    hosts
        .iter()
        .filter_map(|h| match h.strip_prefix("*.") {
            Some(domain) => host
                .strip_suffix(domain)
                .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.'))
                .then_some(1),
            None => (h == host).then_some(2),
        })
        .max()
}

/// The parameters' values if `request` matches the route's segments.
fn match_path(
    segments: &[Segment],
    path_match: PathMatch,
    request: &[&str],
) -> Option<Vec<(String, String)>> {
    let fits = match path_match {
        PathMatch::Exact => request.len() == segments.len(),
        PathMatch::Prefix => request.len() >= segments.len(),
    };
    if !fits {
        return None;
    }
    let mut params = Vec::new();
    for (segment, actual) in segments.iter().zip(request) {
        match segment {
            Segment::Literal(literal) if literal == actual => {}
            Segment::Literal(_) => return None,
            Segment::Param(name) => params.push((name.clone(), (*actual).to_string())),
        }
    }
    Some(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_broker::records::route;

    fn with(mut r: Route, hosts: &[&str], methods: &[&str], prefix: bool) -> Route {
        r.hosts = hosts.iter().map(|h| h.to_string()).collect();
        r.methods = methods.iter().map(|m| m.to_string()).collect();
        if prefix {
            r.path_match = PathMatch::Prefix;
        }
        r
    }

    fn name(matched: &Matched) -> &str {
        match matched {
            Matched::Route(r, _) => &r.name,
            other => panic!("no route: {other:?}"),
        }
    }

    #[test]
    fn the_most_specific_route_wins_and_parameters_are_read() {
        let routes = vec![
            with(route("user", "f", "/users/{id}"), &[], &["GET"], false),
            with(route("me", "f", "/users/me"), &[], &["GET"], false),
            with(route("api", "f", "/users"), &["*.example.com"], &[], true),
            with(
                route("named", "f", "/users"),
                &["api.example.com"],
                &[],
                true,
            ),
        ];
        let matched = find(&routes, "GET", "x.org", "/users/42");
        assert_eq!(name(&matched), "user");
        assert_eq!(
            matched,
            Matched::Route(
                Box::new(routes[0].clone()),
                vec![("id".into(), "42".into())]
            )
        );
        assert_eq!(name(&find(&routes, "GET", "x.org", "/users/me")), "me");
        assert_eq!(
            name(&find(&routes, "GET", "v1.example.com", "/users/42")),
            "api"
        );
        assert_eq!(
            name(&find(&routes, "GET", "api.example.com", "/users/42/x")),
            "named"
        );
        assert_eq!(
            find(&routes, "GET", "example.com", "/users/1/x"),
            Matched::NotFound
        );
    }

    #[test]
    fn a_path_matched_with_another_method_is_a_405_with_the_allowed_ones() {
        let routes = vec![with(
            route("user", "f", "/users/{id}"),
            &[],
            &["GET", "PUT"],
            false,
        )];
        let Matched::WrongMethod(allowed) = find(&routes, "DELETE", "h", "/users/1") else {
            panic!("expected 405");
        };
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        assert_eq!(allowed, ["GET", "HEAD", "OPTIONS", "PUT"]);
        assert_eq!(find(&routes, "GET", "h", "/people/1"), Matched::NotFound);
    }
}
