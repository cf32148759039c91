//! The URL's part of the input: path parameters as the router matched them, the query string, their
//! percent-decoding, and duplicates among them (removed when equal, a conflict when not).

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use percent_encoding::percent_decode_str;

use super::errors::input_error;
use super::InputError;

/// A request's path parameters, in the one form the request path uses: the route's parameter names
/// (shared by every request of the route) and each value as a byte range of the request's path, still
/// percent-encoded. The pipeline builds it once, from the router's match; [`Request::path_param`] and the
/// input merge read it in place.
///
/// The ranges index the path of the request that owns this value: read them only with that path.
///
/// [`Request::path_param`]: crate::Request::path_param
#[derive(Debug, Clone, Default)]
pub(crate) struct PathParams {
    names: Arc<[Box<str>]>,
    values: Vec<Range<usize>>,
}

impl PathParams {
    /// Pairs the route's `names` with the router's `values`, which are slices of `path` in template order.
    pub(crate) fn new<'p>(names: Arc<[Box<str>]>, path: &'p str, values: impl Iterator<Item = &'p str>) -> Self {
        let values = values
            .map(|value| {
                // The router hands out slices of `path`; keeping their positions lets the request own the
                // URI without a self-reference.
                let start = value.as_ptr() as usize - path.as_ptr() as usize;
                debug_assert!(path.get(start..start + value.len()) == Some(value), "a path parameter outside the path");
                start..start + value.len()
            })
            .collect();
        Self { names, values }
    }

    /// Whether the route has no parameters.
    pub(crate) fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `(name, value)` pairs in template order, the values still percent-encoded. `path` is the path of the
    /// request these parameters were matched on.
    pub(crate) fn iter<'p>(&'p self, path: &'p str) -> impl Iterator<Item = (&'p str, &'p str)> + 'p {
        self.names.iter().zip(&self.values).map(move |(name, range)| (&**name, &path[range.clone()]))
    }

    /// The value of the parameter `name`, still percent-encoded.
    pub(crate) fn get<'p>(&'p self, path: &'p str, name: &str) -> Option<&'p str> {
        self.iter(path).find(|(param, _)| *param == name).map(|(_, value)| value)
    }

    /// Parameters from `(name, value)` pairs, and the path they index (for tests).
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> (String, Self) {
        let mut path = String::new();
        let mut values = Vec::with_capacity(pairs.len());
        for (_, value) in pairs {
            path.push('/');
            values.push(path.len()..path.len() + value.len());
            path.push_str(value);
        }
        let names = pairs.iter().map(|(name, _)| Box::from(*name)).collect();
        (path, Self { names, values })
    }
}

/// The first value of the query parameter `name`, form-decoded (`%XX` escapes and `+` as a space) the way
/// function inputs are; borrowed when there is nothing to decode.
///
/// A key without `=` (`?flag`) has the empty value.
///
/// ```
/// use pikku_runtime::input::query_param;
///
/// assert_eq!(query_param("limit=5&apiKey=a%2Bb", "apiKey").as_deref(), Some("a+b"));
/// assert_eq!(query_param("limit=5", "apiKey"), None);
/// ```
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<Cow<'a, str>> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key, true) == name).then(|| decode(value, true))
    })
}

/// Percent-decodes `s` (and turns `+` into a space when `plus_as_space`, as forms encode it), borrowing
/// when there is nothing to decode. Malformed escapes are kept as written; invalid UTF-8 becomes U+FFFD.
pub(super) fn decode(s: &str, plus_as_space: bool) -> Cow<'_, str> {
    if plus_as_space && s.contains('+') {
        let spaced = s.replace('+', " ");
        return Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned());
    }
    percent_decode_str(s).decode_utf8_lossy()
}

/// Where a value came from, for conflict messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Path,
    Query,
    Body,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Path => "path",
            Source::Query => "query",
            Source::Body => "body",
        }
    }
}

/// One decoded key and value from the URL.
#[derive(Debug)]
pub(super) struct UrlEntry<'a> {
    pub(super) key: Cow<'a, str>,
    pub(super) value: Cow<'a, str>,
    pub(super) source: Source,
}

pub(super) fn conflict(key: &str, first: Source, second: Source) -> InputError {
    let sources = if first == second {
        format!("given twice in the {}", first.name())
    } else {
        format!("{} and {}", first.name(), second.name())
    };
    input_error(Some(key.to_owned()), format!("conflicting values for `{key}` ({sources})"))
}

/// Path parameters then query pairs, decoded, with duplicates removed (same value) or reported (different
/// values).
pub(super) fn collect_url<'a>(
    path: &'a str,
    path_params: &'a PathParams,
    query: Option<&'a str>,
) -> Result<Vec<UrlEntry<'a>>, InputError> {
    let query_pairs = query.map_or(0, |q| q.split('&').filter(|p| !p.is_empty()).count());
    let mut entries = Vec::with_capacity(path_params.values.len() + query_pairs);
    for (name, value) in path_params.iter(path) {
        entries.push(UrlEntry { key: Cow::Borrowed(name), value: decode(value, false), source: Source::Path });
    }
    if let Some(query) = query {
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            entries.push(UrlEntry { key: decode(key, true), value: decode(value, true), source: Source::Query });
        }
    }
    dedupe(&mut entries)?;
    Ok(entries)
}

fn dedupe(entries: &mut Vec<UrlEntry<'_>>) -> Result<(), InputError> {
    if entries.len() < 2 {
        return Ok(());
    }
    let mut drop = vec![false; entries.len()];
    let check = |first: usize, second: usize, drop: &mut [bool]| {
        let (a, b) = (&entries[first], &entries[second]);
        if a.key != b.key {
            return Ok(());
        }
        if a.value != b.value {
            return Err(conflict(&a.key, a.source, b.source));
        }
        drop[second] = true;
        Ok(())
    };
    // Few pairs (the usual case): compare each with those before it, no sorting.
    if entries.len() <= DEDUPE_QUADRATIC_MAX {
        for second in 1..entries.len() {
            for first in 0..second {
                check(first, second, &mut drop)?;
                if drop[second] {
                    break;
                }
            }
        }
    } else {
        // Many pairs: sort indices by key (stable, so the first occurrence leads each group) and compare
        // neighbours.
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|&a, &b| entries[a].key.cmp(&entries[b].key));
        let mut lead = order[0];
        for &next in &order[1..] {
            if entries[lead].key == entries[next].key {
                check(lead, next, &mut drop)?;
            } else {
                lead = next;
            }
        }
    }
    let mut drop = drop.into_iter();
    entries.retain(|_| !drop.next().unwrap_or(false));
    Ok(())
}

/// Up to this many URL pairs, duplicates are found by comparing every pair (no allocation for an index);
/// beyond it, by sorting, so a long query cannot make the check quadratic.
const DEDUPE_QUADRATIC_MAX: usize = 16;
