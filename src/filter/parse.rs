//! The filter grammar: a recursive-descent parser from source text to a [`Node`] tree.
//!
//! The parser works on characters, not bytes, so every error's column is the character a person
//! counts to in their editor. Nesting is capped, so no filter can overflow the stack here or in
//! [`Node::eval`].

use super::matcher::{Field, Node, Term};
use super::{FilterError, Reference, ReferenceKind};

/// How deep parentheses and negations may nest. Real filters use two or three levels.
const MAX_DEPTH: usize = 64;

/// What parsing a filter gives besides its tree: what a person may have got wrong without
/// making the filter invalid.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// `None` for an empty (or all-whitespace) filter, which matches everything.
    pub(crate) root: Option<Node>,
    /// `source:` and `tag:` terms written as a word or phrase, for the config to check.
    pub(crate) references: Vec<Reference>,
    /// Lower-case `and`, `or`, `not` read as words: almost always meant as operators.
    pub(crate) warnings: Vec<FilterError>,
}

/// Parses `src`.
pub(crate) fn parse(src: &str) -> Result<Parsed, FilterError> {
    if src.trim().is_empty() {
        return Ok(Parsed::default());
    }
    let mut p = Parser {
        chars: src.chars().collect(),
        pos: 0,
        depth: 0,
        references: Vec::new(),
        warnings: Vec::new(),
    };
    let node = p.parse_or(None)?;
    p.skip_whitespace();
    if p.pos < p.chars.len() {
        // `parse_or` stops only at the end or at a `)` no group is waiting for.
        return Err(p.error(p.pos, "unmatched ')'"));
    }
    Ok(Parsed {
        root: Some(node),
        references: p.references,
        warnings: p.warnings,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Keyword {
    And,
    Or,
    Not,
}

impl Keyword {
    fn as_str(self) -> &'static str {
        match self {
            Keyword::And => "AND",
            Keyword::Or => "OR",
            Keyword::Not => "NOT",
        }
    }
}

/// Ends a word: `source:mk-it` is one word, `a(b` is two.
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

struct Parser {
    chars: Vec<char>,
    /// Index into `chars` of the next character to read.
    pos: usize,
    /// Open parentheses and negations around `pos`.
    depth: usize,
    references: Vec<Reference>,
    warnings: Vec<FilterError>,
}

impl Parser {
    fn error(&self, at: usize, message: impl Into<String>) -> FilterError {
        FilterError {
            col: at + 1,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn word_end(&self, from: usize) -> usize {
        self.chars[from..]
            .iter()
            .position(|&c| ends_word(c))
            .map_or(self.chars.len(), |n| from + n)
    }

    /// The keyword starting at `pos`, if the word there is exactly one, and where it ends.
    /// Keywords are upper case only: `and` and `Or` are plain words.
    fn keyword(&self) -> Option<(Keyword, usize)> {
        let end = self.word_end(self.pos);
        let word = &self.chars[self.pos..end];
        let keyword = [Keyword::And, Keyword::Or, Keyword::Not]
            .into_iter()
            .find(|k| k.as_str().chars().eq(word.iter().copied()))?;
        Some((keyword, end))
    }

    /// Enters a parenthesis or negation at `at`, refusing to nest too deep.
    fn descend(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(at, format!("filter nests deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    /// `or := and ("OR" and)*`. `after` names what came just before, for error messages.
    fn parse_or(&mut self, after: Option<&'static str>) -> Result<Node, FilterError> {
        let mut nodes = vec![self.parse_and(after)?];
        loop {
            self.skip_whitespace();
            match self.keyword() {
                Some((Keyword::Or, end)) => {
                    self.pos = end;
                    nodes.push(self.parse_and(Some("OR"))?);
                }
                _ => break,
            }
        }
        Ok(if nodes.len() == 1 {
            nodes.remove(0)
        } else {
            Node::Or(nodes)
        })
    }

    /// `and := unary (["AND"] unary)*`: juxtaposition means AND.
    fn parse_and(&mut self, after: Option<&'static str>) -> Result<Node, FilterError> {
        let mut nodes = vec![self.parse_unary(after)?];
        loop {
            self.skip_whitespace();
            if matches!(self.peek(), None | Some(')')) {
                break;
            }
            match self.keyword() {
                Some((Keyword::Or, _)) => break,
                Some((Keyword::And, end)) => {
                    self.pos = end;
                    nodes.push(self.parse_unary(Some("AND"))?);
                }
                // Not at the end, not `)`, not OR or AND: a unary always starts here.
                _ => nodes.push(self.parse_unary(None)?),
            }
        }
        Ok(if nodes.len() == 1 {
            nodes.remove(0)
        } else {
            Node::And(nodes)
        })
    }

    /// `unary := ("-" | "NOT ") unary | "(" query ")" | term`.
    fn parse_unary(&mut self, after: Option<&'static str>) -> Result<Node, FilterError> {
        self.skip_whitespace();
        let at = self.pos;
        match self.peek() {
            None => Err(self.missing_term(after, None)),
            Some(')') => Err(self.missing_term(after, Some(")"))),
            Some('-') => {
                self.pos += 1;
                self.negation(at, "-")
            }
            Some('(') => {
                self.pos += 1;
                self.descend(at)?;
                let inner = self.parse_or(Some("("))?;
                self.skip_whitespace();
                if self.peek() != Some(')') {
                    return Err(self.error(self.pos, "expected ')'"));
                }
                self.pos += 1;
                self.depth -= 1;
                Ok(inner)
            }
            _ => match self.keyword() {
                Some((Keyword::Not, end)) => {
                    self.pos = end;
                    self.negation(at, "NOT")
                }
                Some((keyword, _)) => Err(self.missing_term(after, Some(keyword.as_str()))),
                None => self.parse_term(),
            },
        }
    }

    fn negation(&mut self, at: usize, op: &'static str) -> Result<Node, FilterError> {
        self.descend(at)?;
        let inner = self.parse_unary(Some(op))?;
        self.depth -= 1;
        Ok(Node::Not(Box::new(inner)))
    }

    /// The error for a place that needed a term but found `found` (`None`: the end).
    fn missing_term(&self, after: Option<&str>, found: Option<&str>) -> FilterError {
        let message = match (after, found) {
            (Some(op), _) => format!("expected a term after '{op}'"),
            (None, Some(")")) => "unmatched ')'".to_owned(),
            (None, Some(keyword)) => format!("expected a term before '{keyword}'"),
            (None, None) => "expected a term".to_owned(),
        };
        self.error(self.pos, message)
    }

    /// `term := [field ":"] (word | "quoted phrase" | /regex/)`.
    fn parse_term(&mut self) -> Result<Node, FilterError> {
        let start = self.pos;
        let field = self.field_prefix()?;
        let value_at = self.pos;
        let (term, text) = match self.peek() {
            Some('"') => {
                let phrase = self.phrase()?;
                (Term::text(field.unwrap_or(Field::Text), &phrase), phrase)
            }
            Some('/') => return Ok(Node::Term(self.regex(field.unwrap_or(Field::Text))?)),
            None => return Err(self.missing_value(field)),
            Some(c) if ends_word(c) => return Err(self.missing_value(field)),
            Some(_) => {
                let end = self.word_end(self.pos);
                let word: String = self.chars[self.pos..end].iter().collect();
                self.pos = end;
                if field.is_none() {
                    self.warn_lowercase_keyword(start, &word);
                }
                (Term::text(field.unwrap_or(Field::Text), &word), word)
            }
        };
        let kind = match field {
            Some(Field::Source) => Some(ReferenceKind::Source),
            Some(Field::Tag) => Some(ReferenceKind::Tag),
            _ => None,
        };
        if let Some(kind) = kind {
            self.references.push(Reference {
                kind,
                value: text,
                col: value_at + 1,
            });
        }
        Ok(Node::Term(term))
    }

    /// `a or b` searches for the word "or": legal, but nearly always meant as `OR`.
    fn warn_lowercase_keyword(&mut self, at: usize, word: &str) {
        let Some(keyword) = ["AND", "OR", "NOT"]
            .into_iter()
            .find(|k| k.eq_ignore_ascii_case(word))
        else {
            return;
        };
        let message = format!(
            "{word:?} is searched for as a word; write {keyword} for the operator, or \"{word}\" \
             in quotes to keep searching for the word"
        );
        self.warnings.push(self.error(at, message));
    }

    fn missing_value(&self, field: Option<Field>) -> FilterError {
        // Only reachable after a field: a term without one starts at a word character.
        let name = field.map_or("text", Field::name);
        self.error(
            self.pos,
            format!("expected a word, \"phrase\" or /regex/ after '{name}:'"),
        )
    }

    /// Consumes `name:` when `name` is a known field. `letters:` where the letters are not a
    /// field is a mistake (`categroy:IT` would silently search the text for "categroy:it"),
    /// except before `//`, which makes it a URL (`http://x`); a colon after anything but
    /// letters (`10:30`) is part of a plain word.
    fn field_prefix(&mut self) -> Result<Option<Field>, FilterError> {
        let letters = self.chars[self.pos..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic())
            .count();
        let colon = self.pos + letters;
        if letters == 0 || self.chars.get(colon) != Some(&':') {
            return Ok(None);
        }
        let name: String = self.chars[self.pos..colon].iter().collect();
        let Some(field) = Field::from_name(&name) else {
            if self.chars[colon + 1..].starts_with(&['/', '/']) {
                return Ok(None);
            }
            return Err(self.unknown_field(&name));
        };
        self.pos = colon + 1;
        Ok(Some(field))
    }

    fn unknown_field(&self, name: &str) -> FilterError {
        let fields: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
        let hint = match crate::closest(name, fields.iter().copied()) {
            Some(f) => format!(" (did you mean {f:?}?)"),
            None => String::new(),
        };
        let end = self.word_end(self.pos);
        let term: String = self.chars[self.pos..end].iter().collect();
        self.error(
            self.pos,
            format!(
                "unknown field {name:?}{hint}; fields are {}; write \"{term}\" in quotes to \
                 search for the text",
                fields.join(", ")
            ),
        )
    }

    /// A `"quoted phrase"`; inside it `\"` is a quote and `\\` a backslash.
    fn phrase(&mut self) -> Result<String, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error(open, "unclosed quote")),
                Some('"') => break,
                Some('\\') if matches!(self.chars.get(self.pos + 1), Some('"' | '\\')) => {
                    text.push(self.chars[self.pos + 1]);
                    self.pos += 2;
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        if text.is_empty() {
            return Err(self.error(open, "empty phrase"));
        }
        Ok(text)
    }

    /// A `/regex/`; inside it `\/` is a slash, and every other escape goes to the regex as is.
    fn regex(&mut self, field: Field) -> Result<Term, FilterError> {
        let open = self.pos;
        self.pos += 1;
        let mut pattern = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error(open, "unclosed regex: expected a closing '/'")),
                Some('/') => break,
                Some('\\') => {
                    let Some(&next) = self.chars.get(self.pos + 1) else {
                        return Err(self.error(open, "unclosed regex: expected a closing '/'"));
                    };
                    if next != '/' {
                        pattern.push('\\');
                    }
                    pattern.push(next);
                    self.pos += 2;
                }
                Some(c) => {
                    pattern.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        if pattern.is_empty() {
            return Err(self.error(open, "empty regex"));
        }
        // `/x/i` is someone reaching for flags; reading `i` as a second term would be a trap.
        if self.peek().is_some_and(char::is_alphanumeric) {
            return Err(self.error(
                self.pos,
                "regex flags are not supported; matching is always case-insensitive",
            ));
        }
        Term::regex(field, &pattern)
            .map_err(|why| self.error(open, format!("invalid regex: {why}")))
    }
}
