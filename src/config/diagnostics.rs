//! Config-file diagnostics: every problem in a TOML file, each with file,
//! line, column and key path.
//!
//! Two kinds of problems are reported:
//!
//! * structural ones, found while deserializing ([`deserialize_all`]): TOML
//!   syntax errors, unknown keys, values of the wrong type, values rejected by
//!   a `Deserialize` impl, missing required keys;
//! * semantic ones, found afterwards by validation code, which names the
//!   offending key by its path and lets a [`SourceMap`] find it in the text.
//!
//! Serde stops at the first error, so [`deserialize_all`] recovers and tries
//! again: the document is parsed once with `toml_edit` (which keeps every
//! item's byte span) and each attempt deserializes a copy of that tree in
//! which the items already reported are repaired. An unknown key is removed
//! together with everything under it (so the keys of an unknown table are not
//! reported separately), a rejected value is removed, and a missing required
//! key gets a placeholder value. Only the original source spans are ever
//! reported, so locations never drift.
//!
//! Deserialization goes through `toml_edit::de`, which is exactly what
//! `toml::from_str` does internally, so results match `toml::from_str` except
//! that every error is reported instead of only the first. (`toml_edit::de`
//! needs `toml_edit`'s `serde` feature, which `toml` 0.8 turns on.)
//!
//! Limits: at most 50 diagnostics per file. Nothing inside a removed item is
//! checked, e.g. the keys of `[devices]` written where `[[devices]]` was
//! meant. The search also ends at a missing required key that none of the
//! placeholders (`""`, `1`, `false`, `1.0`, `[]`, `{}`, an enum's first
//! variant) satisfies, such as a required duration string.

use std::fmt::{self, Write as _};
use std::ops::Range;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;
use toml_edit::{Array, DocumentMut, ImDocument, InlineTable, Item, Key, Value};

/// At most this many diagnostics are reported for one file.
const MAX_DIAGNOSTICS: usize = 50;

/// Upper bound on deserialization attempts. Each failed attempt leads to a
/// repair of the working document, so this is only a safety net.
const MAX_ATTEMPTS: usize = 10 * MAX_DIAGNOSTICS;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file name as given by the caller.
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Where in the document, like `devices[2].zones[0].rms_mg` or
    /// `mqtt.url`; empty for the document as a whole.
    pub key_path: String,
    /// What is wrong, on one line.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// Formats as `FILE:LINE:COL: KEY_PATH: MESSAGE`, leaving out
    /// `KEY_PATH: ` when the key path is empty and `LINE:COL:` when there
    /// is no position (line 0: the file as a whole, e.g. unreadable).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", self.file)?;
        } else {
            write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        }
        if !self.key_path.is_empty() {
            write!(f, "{}: ", self.key_path)?;
        }
        f.write_str(&self.message)
    }
}

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    /// A key in a table or inline table.
    Key(String),
    /// A position in an array or an array of tables, 0-based.
    Index(usize),
}

/// Renders a path the way [`Diagnostic::key_path`] shows it, e.g.
/// `devices[2].zones[0].rms_mg`. Keys that are not bare TOML keys are quoted.
pub fn render_path(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if is_bare_key(key) {
                    out.push_str(key);
                } else {
                    // Writing to a `String` cannot fail.
                    let _ = write!(out, "{key:?}");
                }
            }
            PathSeg::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    out
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A parsed config file that can turn a key path into a [`Diagnostic`] with
/// its line and column, for problems found after deserialization.
pub struct SourceMap {
    file: String,
    doc: ImDocument<String>,
    /// Byte offset at which each line starts; the first entry is 0.
    line_starts: Vec<usize>,
}

impl fmt::Debug for SourceMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceMap")
            .field("file", &self.file)
            .field("lines", &self.line_starts.len())
            .finish_non_exhaustive()
    }
}

impl SourceMap {
    /// Parses `text`, the contents of `file`. A TOML syntax error becomes a
    /// single diagnostic at the place the parser stopped.
    ///
    /// # Errors
    ///
    /// The syntax error, as the only element of the list.
    pub fn parse(file: &str, text: &str) -> Result<SourceMap, Vec<Diagnostic>> {
        let line_starts = line_starts(text);
        match ImDocument::parse(text.to_owned()) {
            Ok(doc) => Ok(SourceMap {
                file: file.to_owned(),
                doc,
                line_starts,
            }),
            Err(err) => {
                let offset = err.span().map_or(0, |span| span.start);
                let (line, column) = line_column(text, &line_starts, offset);
                Err(vec![Diagnostic {
                    file: file.to_owned(),
                    line,
                    column,
                    key_path: String::new(),
                    message: clean_message(err.message()),
                }])
            }
        }
    }

    /// The file name this map was parsed from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// A diagnostic for the item at `path`, e.g.
    /// `&[Key("devices"), Index(2), Key("zones"), Index(0), Key("end_m")]`.
    ///
    /// Points at the deepest item on the path that exists in the file: the
    /// key itself if present (a table with a header points at its header),
    /// otherwise the nearest existing parent, so a missing key points at the
    /// table that should contain it. The key path is always the full `path`.
    pub fn diagnostic(&self, path: &[PathSeg], message: impl Into<String>) -> Diagnostic {
        self.diagnostic_at(self.locate(path), render_path(path), message.into())
    }

    fn diagnostic_at(&self, offset: usize, key_path: String, message: String) -> Diagnostic {
        let (line, column) = line_column(self.doc.raw(), &self.line_starts, offset);
        Diagnostic {
            file: self.file.clone(),
            line,
            column,
            key_path,
            message,
        }
    }

    /// Byte offset of the deepest item on `path` that exists in the file.
    fn locate(&self, path: &[PathSeg]) -> usize {
        let mut item = self.doc.as_item();
        let mut offset = 0;
        for seg in path {
            let Some((span, child)) = step(item, seg) else {
                break;
            };
            if let Some(span) = span {
                offset = span.start;
            }
            item = child;
        }
        offset
    }
}

/// Moves one step along a path, returning the child and the span to point
/// at for it.
fn step<'a>(item: &'a Item, seg: &PathSeg) -> Option<(Option<Range<usize>>, &'a Item)> {
    match seg {
        PathSeg::Key(key) => {
            let (key, child) = item.as_table_like()?.get_key_value(key)?;
            Some((anchor(key, child), child))
        }
        PathSeg::Index(index) => {
            let child = item.get(*index)?;
            Some((child.span(), child))
        }
    }
}

/// Where to point for a keyed item: the (first) header of a table or array
/// of tables that has one, otherwise the key.
fn anchor(key: &Key, item: &Item) -> Option<Range<usize>> {
    let header = match item {
        Item::Table(table) if !table.is_implicit() => table.span(),
        Item::ArrayOfTables(tables) => tables.span(),
        _ => None,
    };
    header.or_else(|| key.span()).or_else(|| item.span())
}

/// The 1-based line and character column of byte `offset` in `text`.
fn line_column(text: &str, line_starts: &[usize], offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let line = line_starts.partition_point(|&start| start <= offset).max(1);
    let start = line_starts.get(line - 1).copied().unwrap_or(0);
    let column = text
        .get(start..offset)
        .map_or(offset - start, |prefix| prefix.chars().count());
    (line, column + 1)
}

/// Byte offset at which each line of `text` starts.
fn line_starts(text: &str) -> Vec<usize> {
    std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect()
}

/// Reduces an error message to one line. Drops the source snippet that
/// `toml`'s `Display` adds (`TOML parse error at line …`, `1 | …`, `  | ^`)
/// in case a `Deserialize` impl passed such text through.
fn clean_message(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !is_snippet_line(line))
        .collect();
    lines.join("; ")
}

fn is_snippet_line(line: &str) -> bool {
    line.starts_with("TOML parse error at line ")
        || line
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start()
            .starts_with('|')
}

/// Deserializes `text`, the contents of `file`, into `T`, reporting as many
/// structural problems as possible in one go: syntax errors, unknown keys,
/// values of the wrong type, values rejected by a `Deserialize` impl and
/// missing required keys, each with location and key path.
///
/// # Errors
///
/// The problems found, sorted by position: at least one, at most 50.
pub fn deserialize_all<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Vec<Diagnostic>> {
    deserialize_partial(file, text).map_err(|p| p.diagnostics)
}

/// What could be made of a document with structural problems.
#[derive(Debug)]
pub struct Partial<T> {
    /// The problems found, as [`deserialize_all`] reports them.
    pub diagnostics: Vec<Diagnostic>,
    /// The value of the repaired document (reported items removed, missing
    /// required keys stood in for), when it deserializes: further checks can
    /// run on it to report more problems in the same pass.
    pub repaired: Option<T>,
    /// Key paths that were removed or stood in for; checks on `repaired`
    /// must ignore what they find at or under these.
    pub touched: Vec<Vec<PathSeg>>,
}

/// Like [`deserialize_all`], but on failure also returns the repaired value.
///
/// # Errors
///
/// The problems found, with the repaired value if there is one.
pub fn deserialize_partial<T: DeserializeOwned>(file: &str, text: &str) -> Result<T, Partial<T>> {
    let map = SourceMap::parse(file, text).map_err(|diagnostics| Partial {
        diagnostics,
        repaired: None,
        touched: Vec::new(),
    })?;
    Recovery::new(&map).run()
}

/// Placeholder values tried, in order, for a required key that is missing.
fn placeholder_value(attempt: usize) -> Option<Value> {
    let value = match attempt {
        0 => Value::from(""),
        1 => Value::from(1),
        2 => Value::from(false),
        3 => Value::from(1.0),
        4 => Value::from(Array::new()),
        5 => Value::from(InlineTable::new()),
        _ => return None,
    };
    Some(value)
}

/// A placeholder inserted for a missing required key, and how many values
/// have been tried for it.
struct Placeholder {
    path: Vec<PathSeg>,
    attempts: usize,
}

/// What a failed attempt says about the document.
enum Problem {
    UnknownField(String),
    MissingField(String),
    Other,
}

/// One deserialization error with the path serde was at.
struct Failure {
    path: Vec<PathSeg>,
    /// False when the path has a segment that cannot be named, so it is
    /// only a prefix of where the error is.
    exact: bool,
    message: String,
    span: Option<Range<usize>>,
    problem: Problem,
}

impl Failure {
    fn new(err: serde_path_to_error::Error<toml_edit::de::Error>) -> Self {
        let (path, exact) = convert_path(err.path());
        let err = err.into_inner();
        let message = clean_message(err.message());
        let problem = if let Some(name) = backticked(&message, "unknown field `") {
            Problem::UnknownField(name.to_owned())
        } else if let Some(name) = backticked(&message, "missing field `") {
            Problem::MissingField(name.to_owned())
        } else {
            Problem::Other
        };
        Failure {
            path,
            exact,
            message,
            span: err.span(),
            problem,
        }
    }
}

fn convert_path(path: &serde_path_to_error::Path) -> (Vec<PathSeg>, bool) {
    let mut segs = Vec::new();
    for seg in path {
        segs.push(match seg {
            Segment::Seq { index } => PathSeg::Index(*index),
            Segment::Map { key } => PathSeg::Key(key.clone()),
            Segment::Enum { variant } => PathSeg::Key(variant.clone()),
            Segment::Unknown => return (segs, false),
        });
    }
    (segs, true)
}

/// The name in serde messages like ``unknown field `x`, expected …`` or
/// ``missing field `x` ``.
fn backticked<'m>(message: &'m str, prefix: &str) -> Option<&'m str> {
    let rest = message.strip_prefix(prefix)?;
    let end = rest.find("`, ").or_else(|| rest.rfind('`'))?;
    rest.get(..end)
}

/// The first variant serde suggests in ``unknown variant `x`, expected `a` or `b` ``.
fn expected_variant(message: &str) -> Option<&str> {
    let (_, expected) = message
        .strip_prefix("unknown variant `")?
        .split_once("`, expected ")?;
    let (_, rest) = expected.split_once('`')?;
    let (variant, _) = rest.split_once('`')?;
    Some(variant)
}

fn child_path(path: &[PathSeg], key: &str) -> Vec<PathSeg> {
    let mut child = path.to_vec();
    child.push(PathSeg::Key(key.to_owned()));
    child
}

/// Whether to keep going after handling a failure.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// The state of [`deserialize_all`]: a working copy of the document with the
/// reported problems repaired, and what has been reported.
struct Recovery<'a> {
    map: &'a SourceMap,
    work: DocumentMut,
    /// Paths of items removed because they were reported.
    removed: Vec<Vec<PathSeg>>,
    placeholders: Vec<Placeholder>,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Recovery<'a> {
    fn new(map: &'a SourceMap) -> Self {
        Recovery {
            map,
            // Cloned items keep the spans of the original text.
            work: DocumentMut::from(map.doc.as_table().clone()),
            removed: Vec::new(),
            placeholders: Vec::new(),
            diagnostics: Vec::new(),
        }
    }

    fn run<T: DeserializeOwned>(mut self) -> Result<T, Partial<T>> {
        let mut repaired = None;
        for _ in 0..MAX_ATTEMPTS {
            let de = toml_edit::de::Deserializer::from(self.work.clone());
            match serde_path_to_error::deserialize(de) {
                Ok(value) if self.diagnostics.is_empty() => return Ok(value),
                // Only the repaired document deserializes.
                Ok(value) => {
                    repaired = Some(value);
                    break;
                }
                Err(err) => {
                    let flow = self.handle(Failure::new(err));
                    if flow == Flow::Stop || self.diagnostics.len() >= MAX_DIAGNOSTICS {
                        break;
                    }
                }
            }
        }
        let mut touched = std::mem::take(&mut self.removed);
        touched.extend(self.placeholders.iter().map(|p| p.path.clone()));
        Err(Partial {
            diagnostics: self.finish(),
            repaired,
            touched,
        })
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        if self.diagnostics.is_empty() {
            // Not expected: every repair follows a report. Never return an
            // empty error list.
            let message = "the configuration could not be read".to_owned();
            self.diagnostics
                .push(self.map.diagnostic_at(0, String::new(), message));
        }
        // Stable: problems at the same place stay in the order found.
        self.diagnostics.sort_by_key(|d| (d.line, d.column));
        self.diagnostics.dedup();
        self.diagnostics.truncate(MAX_DIAGNOSTICS);
        self.diagnostics
    }

    /// Reports `failure` unless it follows from an earlier repair, then
    /// repairs the working document so the next attempt gets further.
    fn handle(&mut self, failure: Failure) -> Flow {
        if !failure.exact {
            // Cannot tell which item to repair.
            self.report(self.value_offset(&failure), &failure.path, &failure.message);
            return Flow::Stop;
        }
        if let Some(index) = self.placeholder_containing(&failure.path) {
            return self.repair_placeholder(index, &failure);
        }
        match &failure.problem {
            Problem::UnknownField(name) => {
                // serde_path_to_error has usually recorded the key already.
                let path = if failure.path.last() == Some(&PathSeg::Key(name.clone())) {
                    failure.path
                } else {
                    child_path(&failure.path, name)
                };
                self.report(self.map.locate(&path), &path, &failure.message);
                self.remove(path)
            }
            Problem::MissingField(name) => {
                let path = child_path(&failure.path, name);
                // A key removed for a bad value was reported already.
                if !self.was_removed(&path) {
                    // Point at the table that lacks the key.
                    let offset = self.map.locate(&failure.path);
                    self.report(offset, &path, &failure.message);
                }
                self.add_placeholder(path)
            }
            Problem::Other => {
                self.report(self.value_offset(&failure), &failure.path, &failure.message);
                // Remove the keyed entry holding the bad value; removing an
                // array element would renumber the ones after it.
                let mut target = failure.path;
                while matches!(target.last(), Some(PathSeg::Index(_))) {
                    target.pop();
                }
                self.remove(target)
            }
        }
    }

    /// Where the deserializer says the bad value is, else where its path is.
    fn value_offset(&self, failure: &Failure) -> usize {
        match &failure.span {
            Some(span) => span.start,
            None => self.map.locate(&failure.path),
        }
    }

    fn report(&mut self, offset: usize, path: &[PathSeg], message: &str) {
        let diagnostic = self
            .map
            .diagnostic_at(offset, render_path(path), message.to_owned());
        self.diagnostics.push(diagnostic);
    }

    /// Whether `path` was removed, or lies under a removed item, after an
    /// earlier report.
    fn was_removed(&self, path: &[PathSeg]) -> bool {
        self.removed.iter().any(|removed| path.starts_with(removed))
    }

    /// Removes the keyed item at `path` from the working document.
    fn remove(&mut self, path: Vec<PathSeg>) -> Flow {
        let Some((PathSeg::Key(key), parent)) = path.split_last() else {
            return Flow::Stop;
        };
        let removed = item_at_mut(self.work.as_item_mut(), parent)
            .and_then(Item::as_table_like_mut)
            .and_then(|table| table.remove(key));
        if removed.is_none() {
            return Flow::Stop;
        }
        self.removed.push(path);
        Flow::Continue
    }

    /// The innermost placeholder that `path` lies in.
    fn placeholder_containing(&self, path: &[PathSeg]) -> Option<usize> {
        self.placeholders
            .iter()
            .enumerate()
            .filter(|(_, p)| path.starts_with(&p.path))
            .max_by_key(|(_, p)| p.path.len())
            .map(|(index, _)| index)
    }

    fn add_placeholder(&mut self, path: Vec<PathSeg>) -> Flow {
        let Some(value) = placeholder_value(0) else {
            return Flow::Stop;
        };
        if !self.set_value(&path, &value) {
            return Flow::Stop;
        }
        self.placeholders.push(Placeholder { path, attempts: 0 });
        Flow::Continue
    }

    /// A placeholder was rejected (or, being a table, lacks a key): try the
    /// next value for it. Not reported; the missing key already was.
    fn repair_placeholder(&mut self, index: usize, failure: &Failure) -> Flow {
        if let Problem::MissingField(name) = &failure.problem {
            return self.add_placeholder(child_path(&failure.path, name));
        }
        let Some(placeholder) = self.placeholders.get_mut(index) else {
            return Flow::Stop;
        };
        placeholder.attempts += 1;
        let Some(next) = placeholder_value(placeholder.attempts) else {
            // Nothing fits; the search ends here.
            return Flow::Stop;
        };
        // An enum rejects the placeholder string but names its variants.
        let value = expected_variant(&failure.message).map_or(next, Value::from);
        let path = placeholder.path.clone();
        // Placeholders nested in the one being replaced go away with it.
        self.placeholders
            .retain(|p| p.path.len() <= path.len() || !p.path.starts_with(&path));
        if self.set_value(&path, &value) {
            Flow::Continue
        } else {
            Flow::Stop
        }
    }

    /// Sets the keyed value at `path` in the working document.
    fn set_value(&mut self, path: &[PathSeg], value: &Value) -> bool {
        let Some((PathSeg::Key(key), parent)) = path.split_last() else {
            return false;
        };
        match item_at_mut(self.work.as_item_mut(), parent) {
            Some(Item::Table(table)) => {
                table.insert(key, Item::Value(value.clone()));
                true
            }
            Some(Item::Value(Value::InlineTable(table))) => {
                table.insert(key, value.clone());
                true
            }
            _ => false,
        }
    }
}

/// The item at `path` below `item`, without creating anything.
fn item_at_mut<'a>(mut item: &'a mut Item, path: &[PathSeg]) -> Option<&'a mut Item> {
    for seg in path {
        item = match seg {
            PathSeg::Key(key) => item.as_table_like_mut()?.get_mut(key)?,
            PathSeg::Index(index) => item.get_mut(*index)?,
        };
    }
    Some(item)
}

#[cfg(test)]
#[path = "diagnostics_tests.rs"]
mod tests;
