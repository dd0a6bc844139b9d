//! A strict YAML subset read into a tree that remembers where every value was written.
//!
//! Rule files are YAML for people; errors must point at a line and column. The tree is built
//! from `saphyr-parser` events without recursion. Anchors, aliases, tags, several documents
//! and duplicate keys are refused: they make a file harder to read and to review. Scalars stay
//! text; the rule loader decides what each one means.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Deepest nesting of mappings and sequences a rule file may use.
pub const MAX_DEPTH: usize = 24;

/// A position in a file (both 1-based; columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line.
    pub line: usize,
    /// Column.
    pub col: usize,
}

/// A YAML value with its position.
#[derive(Debug, Clone)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub pos: Pos,
    /// How a scalar was written (to map offsets inside it back to the file).
    pub style: Option<ScalarStyle>,
}

/// The three kinds of YAML value.
#[derive(Debug, Clone)]
pub enum Value {
    /// Text, as written (after YAML unquoting).
    Scalar(String),
    /// A list.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are scalars.
    Map(Vec<(Node, Node)>),
}

/// A syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

fn pos(span: &Span) -> Pos {
    Pos { line: span.start.line(), col: span.start.col() + 1 }
}

enum Open {
    Seq(Node, Vec<Node>),
    Map(Node, Vec<(Node, Node)>, Option<Node>),
}

/// Parses one YAML document.
pub fn parse(source: &str) -> Result<Node, SyntaxError> {
    let mut parser = Parser::new_from_str(source);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<Node> = None;
    let mut documents = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| SyntaxError {
            pos: Pos { line: e.marker().line(), col: e.marker().col() + 1 },
            message: e.info().to_string(),
        })?;
        let at = pos(&span);
        let refuse = |message: &str| Err(SyntaxError { pos: at, message: message.to_string() });
        let opens = match &event {
            Event::SequenceStart(..) => Some(true),
            Event::MappingStart(..) => Some(false),
            _ => None,
        };
        let complete: Option<Node> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => None,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return refuse("a rule file holds one YAML document (remove the second `---`)");
                }
                None
            }
            Event::Alias(_) => return refuse("aliases (`*name`) are not allowed in rule files; write the value out"),
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 {
                    return refuse("anchors (`&name`) are not allowed in rule files");
                }
                if tag.is_some() {
                    return refuse("tags (`!name`) are not allowed in rule files");
                }
                Some(Node { value: Value::Scalar(text.into_owned()), pos: at, style: Some(style) })
            }
            Event::SequenceStart(anchor, tag) | Event::MappingStart(anchor, tag) => {
                if anchor != 0 {
                    return refuse("anchors (`&name`) are not allowed in rule files");
                }
                if tag.is_some() {
                    return refuse("tags (`!name`) are not allowed in rule files");
                }
                if stack.len() >= MAX_DEPTH {
                    return refuse("the file nests lists and mappings too deeply");
                }
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Open::Seq(mut node, items)) => {
                    node.value = Value::Seq(items);
                    Some(node)
                }
                Some(Open::Map(mut node, entries, _)) => {
                    node.value = Value::Map(entries);
                    Some(node)
                }
                None => return refuse("unbalanced YAML structure"),
            },
        };
        if let Some(is_seq) = opens {
            let node = Node { value: Value::Seq(Vec::new()), pos: at, style: None };
            stack.push(if is_seq { Open::Seq(node, Vec::new()) } else { Open::Map(node, Vec::new(), None) });
        }
        if let Some(node) = complete {
            match stack.last_mut() {
                None => root = Some(node),
                Some(Open::Seq(_, items)) => items.push(node),
                Some(Open::Map(_, entries, key)) => match key.take() {
                    None => {
                        let Value::Scalar(name) = &node.value else {
                            return Err(SyntaxError { pos: node.pos, message: "a key must be plain text".into() });
                        };
                        if entries.iter().any(|(k, _)| matches!(&k.value, Value::Scalar(n) if n == name)) {
                            return Err(SyntaxError { pos: node.pos, message: format!("duplicate key `{name}`") });
                        }
                        *key = Some(node);
                    }
                    Some(k) => {
                        let mut node = node;
                        // A block scalar's span ends where the block ends; its `|` or `>` stands
                        // on the key's line.
                        if matches!(node.style, Some(ScalarStyle::Literal | ScalarStyle::Folded)) {
                            node.pos = k.pos;
                        }
                        entries.push((k, node));
                    }
                },
            }
        }
    }
    root.ok_or(SyntaxError { pos: Pos { line: 1, col: 1 }, message: "the file is empty".into() })
}

impl Node {
    /// The text of a scalar (`None` for a list or mapping).
    pub fn text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The file position of byte `offset` inside this scalar's text. Exact for single-line
    /// plain and quoted scalars and for `|` blocks; the scalar's start otherwise.
    pub fn pos_at(&self, source: &str, offset: usize) -> Pos {
        let Some(text) = self.text() else { return self.pos };
        let offset = offset.min(text.len());
        let Some(before) = text.get(..offset) else { return self.pos };
        match self.style {
            Some(ScalarStyle::Plain) if !text.contains('\n') => {
                Pos { line: self.pos.line, col: self.pos.col + before.chars().count() }
            }
            Some(ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) if !text.contains(['\n', '\'', '\\']) => {
                Pos { line: self.pos.line, col: self.pos.col + 1 + before.chars().count() }
            }
            Some(ScalarStyle::Literal) => {
                // An offset past the block's final line break is the end of its last line.
                let content = text.trim_end_matches('\n').len();
                let before = if offset > content { text.get(..content).unwrap_or(before) } else { before };
                let line_index = before.matches('\n').count();
                let in_line = before.rsplit('\n').next().unwrap_or("").chars().count();
                // The block's first content line follows the `|` indicator's line.
                let line = self.pos.line + 1 + line_index;
                let spaces = |l: &str| l.chars().take_while(|c| *c == ' ').count();
                // The block's indentation: the file line's leading spaces less those kept in
                // the scalar (a continuation line indented further keeps its extra spaces).
                let kept = text.split('\n').nth(line_index).map_or(0, spaces);
                let indent = source.lines().nth(line - 1).map_or(0, |l| spaces(l).saturating_sub(kept));
                Pos { line, col: indent + 1 + in_line }
            }
            _ => self.pos,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(node: &Node) -> &[(Node, Node)] {
        match &node.value {
            Value::Map(e) => e,
            _ => &[],
        }
    }

    #[test]
    fn positions_are_kept() {
        let src = "id: x\ncriteria:\n  - rule: a and b\n    other: 'q x'\n  - rule: |\n      first\n      and second\n";
        let root = parse(src).unwrap_or_else(|e| panic!("{e:?}"));
        let top = entries(&root);
        assert_eq!(top[0].1.pos, Pos { line: 1, col: 5 });
        let Value::Seq(items) = &top[1].1.value else { panic!("not a list") };
        let first = entries(&items[0]);
        assert_eq!(first[0].1.pos_at(src, 6), Pos { line: 3, col: 17 });
        assert_eq!(first[1].1.pos_at(src, 2), Pos { line: 4, col: 15 });
        let second = entries(&items[1]);
        assert_eq!(second[0].1.text(), Some("first\nand second\n"));
        assert_eq!(second[0].1.pos_at(src, 10), Pos { line: 7, col: 11 });
        // A continuation line indented further than the block keeps its extra spaces.
        let src = "rule: |\n  first and\n    second\n";
        let root = parse(src).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(entries(&root)[0].1.pos_at(src, 12), Pos { line: 3, col: 5 });
        // The end of the block is the end of its last line, not the line after it.
        assert_eq!(entries(&root)[0].1.pos_at(src, 19), Pos { line: 3, col: 11 });
    }

    #[test]
    fn risky_yaml_is_refused() {
        for (src, needle) in [
            ("a: 1\na: 2\n", "duplicate key"),
            ("a: &x 1\nb: *x\n", "anchors"),
            ("a: !!str 1\n", "tags"),
            ("a: 1\n---\nb: 2\n", "one YAML document"),
            ("", "empty"),
            ("a: [1, 2\n", ""),
        ] {
            let err = parse(src).err().unwrap_or_else(|| panic!("{src:?} was accepted"));
            assert!(err.message.contains(needle), "{src:?}: {}", err.message);
        }
        let deep = "a: ".to_string() + &"[".repeat(200) + &"]".repeat(200);
        assert!(parse(&deep).is_err());
    }
}
