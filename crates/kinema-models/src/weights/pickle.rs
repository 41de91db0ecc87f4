//! The subset of Python's pickle machine that `torch.save` output needs (protocols 2 to 5): it
//! builds a tree of values without running anything. Calls (`REDUCE`, `NEWOBJ`) are recorded as
//! [`Node::Call`] for the caller to interpret (`torch._utils._rebuild_tensor_v2`, ...), except
//! `collections.OrderedDict` and friends, which become dicts so `SETITEMS` can fill them.
//!
//! Compound values live in an arena and refer to each other by index: memo references share
//! them as Python does, dropping the tree is flat (no recursion however deep a crafted file
//! nests), and memory stays proportional to the input.

use std::collections::HashMap;
use std::rc::Rc;

/// A pickled value: a scalar, or a reference to a [`Node`] of the arena.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    /// Index of a node in [`Pickle::nodes`].
    Ref(usize),
}

/// A compound value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    /// `module.name` looked up by `GLOBAL` / `STACK_GLOBAL`.
    Global(String),
    /// `callable(*args)` (`REDUCE`, `NEWOBJ`), not evaluated.
    Call {
        callable: Value,
        args: Value,
    },
    /// A persistent id (`BINPERSID`): how `torch.save` refers to tensor storages.
    PersistentId(Value),
}

/// An unpickled object: its root value and the arena its references point into.
#[derive(Debug, Default)]
pub(crate) struct Pickle {
    pub root: Option<Value>,
    pub nodes: Vec<Node>,
}

impl Pickle {
    /// The node `v` refers to, if it is a reference.
    pub fn node(&self, v: &Value) -> Option<&Node> {
        match v {
            Value::Ref(i) => self.nodes.get(*i),
            _ => None,
        }
    }

    /// The dotted name of a `Global` value.
    pub fn global(&self, v: &Value) -> Option<&str> {
        match self.node(v) {
            Some(Node::Global(g)) => Some(g),
            _ => None,
        }
    }

    /// The items of a tuple (or list) value.
    pub fn items(&self, v: &Value) -> Option<&[Value]> {
        match self.node(v) {
            Some(Node::Tuple(t)) | Some(Node::List(t)) => Some(t),
            _ => None,
        }
    }

    /// The entries of a dict value.
    pub fn dict(&self, v: &Value) -> Option<&[(Value, Value)]> {
        match self.node(v) {
            Some(Node::Dict(d)) => Some(d),
            _ => None,
        }
    }

    /// A short description of `v` for error messages.
    pub fn describe(&self, v: &Value) -> String {
        match v {
            Value::None => "None".into(),
            Value::Bool(b) => format!("{b}"),
            Value::Int(i) => format!("the integer {i}"),
            Value::Float(f) => format!("the float {f}"),
            Value::Str(s) => format!("the string {s:?}"),
            Value::Bytes(b) => format!("{} bytes", b.len()),
            Value::Ref(_) => match self.node(v) {
                Some(Node::Tuple(_)) => "a tuple".into(),
                Some(Node::List(_)) => "a list".into(),
                Some(Node::Dict(_)) => "a dict".into(),
                Some(Node::Global(g)) => format!("the class or function {g}"),
                Some(Node::Call { callable, .. }) => match self.global(callable) {
                    Some(g) => format!("a pickled {g} object"),
                    None => "a pickled object".into(),
                },
                Some(Node::PersistentId(_)) => "a persistent id".into(),
                None => "a dangling reference".into(),
            },
        }
    }
}

/// Callables whose result is a dict that `SETITEMS`/`BUILD` fill (what `torch.save` of a
/// `state_dict()` or a plain dict writes).
const DICT_TYPES: &[&str] = &[
    "collections.OrderedDict",
    "collections.defaultdict",
    "builtins.dict",
    "__builtin__.dict",
];

struct Machine<'a> {
    b: &'a [u8],
    at: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u64, Value>,
    nodes: Vec<Node>,
}

/// Unpickles the object that starts at `b[start..]`; returns it and the offset just after its
/// `STOP`. Errors say what is wrong and at which offset.
pub(crate) fn unpickle(b: &[u8], start: usize) -> Result<(Pickle, usize), String> {
    let mut m = Machine {
        b,
        at: start,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        nodes: Vec::new(),
    };
    let root = m.run()?;
    Ok((
        Pickle {
            root: Some(root),
            nodes: m.nodes,
        },
        m.at,
    ))
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.b.len() - self.at < n {
            return Err(format!(
                "truncated pickle: {what} needs {n} bytes at offset {}, {} left",
                self.at,
                self.b.len() - self.at
            ));
        }
        let b = self.b;
        let s = &b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    fn uint(&mut self, width: usize, what: &str) -> Result<u64, String> {
        let s = self.take(width, what)?;
        let mut v = [0u8; 8];
        v[..width].copy_from_slice(s);
        Ok(u64::from_le_bytes(v))
    }

    /// A length that must fit in the rest of the input.
    fn len(&mut self, width: usize, what: &str) -> Result<usize, String> {
        let n = self.uint(width, what)?;
        if n > (self.b.len() - self.at) as u64 {
            return Err(format!(
                "truncated pickle: {what} of {n} bytes at offset {}, {} left",
                self.at,
                self.b.len() - self.at
            ));
        }
        Ok(n as usize)
    }

    fn line(&mut self, what: &str) -> Result<String, String> {
        let rest = &self.b[self.at..];
        let Some(end) = rest.iter().position(|&c| c == b'\n') else {
            return Err(format!(
                "truncated pickle: {what} at offset {} has no end of line",
                self.at
            ));
        };
        let s = String::from_utf8_lossy(&rest[..end]).into_owned();
        self.at += end + 1;
        Ok(s)
    }

    fn pop(&mut self, op: &str) -> Result<Value, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(format!(
                "corrupt pickle: {op} at offset {} on an empty stack",
                self.at - 1
            ));
        }
        Ok(self.stack.pop().expect("checked non-empty"))
    }

    fn pop_mark(&mut self, op: &str) -> Result<Vec<Value>, String> {
        let Some(m) = self.marks.pop() else {
            return Err(format!(
                "corrupt pickle: {op} at offset {} without a MARK",
                self.at - 1
            ));
        };
        Ok(self.stack.split_off(m))
    }

    fn push_node(&mut self, n: Node) {
        self.nodes.push(n);
        self.stack.push(Value::Ref(self.nodes.len() - 1));
    }

    fn top_node(&mut self, op: &str) -> Result<&mut Node, String> {
        let at = self.at - 1;
        let floor = self.marks.last().copied().unwrap_or(0);
        match self.stack.last() {
            Some(Value::Ref(i)) if self.stack.len() > floor => Ok(&mut self.nodes[*i]),
            _ => Err(format!(
                "corrupt pickle: {op} at offset {at} on something that is not a container"
            )),
        }
    }

    fn memo_get(&self, k: u64) -> Result<Value, String> {
        self.memo.get(&k).cloned().ok_or_else(|| {
            format!(
                "corrupt pickle: memo entry {k} read before it was written (offset {})",
                self.at
            )
        })
    }

    fn memo_put(&mut self, k: u64, op: &str) -> Result<(), String> {
        let v = self.pop(op)?;
        self.stack.push(v.clone());
        self.memo.insert(k, v);
        Ok(())
    }

    fn set_items(&mut self, items: Vec<Value>, op: &str) -> Result<(), String> {
        if !items.len().is_multiple_of(2) {
            return Err(format!("corrupt pickle: {op} with an odd number of items"));
        }
        let at = self.at - 1;
        let Node::Dict(d) = self.top_node(op)? else {
            return Err(format!(
                "corrupt pickle: {op} at offset {at} on something that is not a dict"
            ));
        };
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            match d.iter_mut().find(|(old, _)| *old == k) {
                Some(slot) => slot.1 = v,
                None => d.push((k, v)),
            }
        }
        Ok(())
    }

    fn append(&mut self, items: Vec<Value>, op: &str) -> Result<(), String> {
        let at = self.at - 1;
        match self.top_node(op)? {
            Node::List(l) => {
                l.extend(items);
                Ok(())
            }
            _ => Err(format!(
                "corrupt pickle: {op} at offset {at} on something that is not a list"
            )),
        }
    }

    fn call(&mut self, callable: Value, args: Value) {
        let is_dict = matches!(&callable, Value::Ref(i)
            if matches!(&self.nodes[*i], Node::Global(g) if DICT_TYPES.contains(&g.as_str())));
        if is_dict {
            // `OrderedDict()` / `OrderedDict([(k, v), ...])`: the items come by SETITEMS, or as
            // the argument's pairs.
            let mut d = Vec::new();
            if let Some(Node::Tuple(a)) = self.node_of(&args) {
                if let Some(Node::List(pairs)) = a.first().and_then(|p| self.node_of(p)) {
                    for p in pairs {
                        if let Some(Node::Tuple(kv)) = self.node_of(p) {
                            if let [k, v] = kv.as_slice() {
                                d.push((k.clone(), v.clone()));
                            }
                        }
                    }
                }
            }
            self.push_node(Node::Dict(d));
        } else {
            self.push_node(Node::Call { callable, args });
        }
    }

    fn node_of(&self, v: &Value) -> Option<&Node> {
        match v {
            Value::Ref(i) => self.nodes.get(*i),
            _ => None,
        }
    }

    fn run(&mut self) -> Result<Value, String> {
        loop {
            let at = self.at;
            let op = self.take(1, "an opcode")?[0];
            match op {
                0x80 => {
                    // PROTO
                    let p = self.take(1, "PROTO")?[0];
                    if p > 5 {
                        return Err(format!("pickle protocol {p} (offset {at}) is newer than 5"));
                    }
                }
                0x95 => {
                    // FRAME: framing only groups the opcodes that follow.
                    self.take(8, "FRAME")?;
                }
                b'.' => {
                    // STOP
                    let v = self.pop("STOP")?;
                    return Ok(v);
                }
                b'(' => self.marks.push(self.stack.len()),
                b'}' => self.push_node(Node::Dict(Vec::new())),
                b']' => self.push_node(Node::List(Vec::new())),
                b')' => self.push_node(Node::Tuple(Vec::new())),
                0x8f => self.push_node(Node::List(Vec::new())), // EMPTY_SET, kept as a list
                b'd' => {
                    let items = self.pop_mark("DICT")?;
                    self.push_node(Node::Dict(Vec::new()));
                    self.set_items(items, "DICT")?;
                }
                b'l' => {
                    let items = self.pop_mark("LIST")?;
                    self.push_node(Node::List(items));
                }
                b't' => {
                    let items = self.pop_mark("TUPLE")?;
                    self.push_node(Node::Tuple(items));
                }
                0x91 => {
                    // FROZENSET
                    let items = self.pop_mark("FROZENSET")?;
                    self.push_node(Node::List(items));
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop("TUPLEn")?);
                    }
                    items.reverse();
                    self.push_node(Node::Tuple(items));
                }
                b'X' | 0x8c | 0x8d => {
                    let width = match op {
                        b'X' => 4,
                        0x8c => 1,
                        _ => 8,
                    };
                    let n = self.len(width, "a string")?;
                    let raw = self.take(n, "a string")?;
                    let s = std::str::from_utf8(raw)
                        .map_err(|_| format!("corrupt pickle: string at offset {at} is not UTF-8"))?;
                    self.stack.push(Value::Str(s.into()));
                }
                b'T' | b'U' => {
                    // BINSTRING / SHORT_BINSTRING: Python 2 `str`, bytes read as Latin-1.
                    let n = self.len(if op == b'T' { 4 } else { 1 }, "a string")?;
                    let s: String = self.take(n, "a string")?.iter().map(|&c| c as char).collect();
                    self.stack.push(Value::Str(s.into()));
                }
                b'B' | b'C' | 0x8e => {
                    let width = match op {
                        b'B' => 4,
                        b'C' => 1,
                        _ => 8,
                    };
                    let n = self.len(width, "bytes")?;
                    let raw = self.take(n, "bytes")?;
                    self.stack.push(Value::Bytes(raw.into()));
                }
                b'J' => {
                    let v = self.uint(4, "BININT")? as u32 as i32;
                    self.stack.push(Value::Int(v as i128));
                }
                b'K' => {
                    let v = self.uint(1, "BININT1")?;
                    self.stack.push(Value::Int(v as i128));
                }
                b'M' => {
                    let v = self.uint(2, "BININT2")?;
                    self.stack.push(Value::Int(v as i128));
                }
                0x8a | 0x8b => {
                    let n = self.len(if op == 0x8a { 1 } else { 4 }, "a long")?;
                    let raw = self.take(n, "a long")?;
                    if n > 16 {
                        return Err(format!("integer of {n} bytes at offset {at} is too large"));
                    }
                    // Little-endian two's complement: sign-extend from the last byte.
                    let fill = if raw.last().is_some_and(|&c| c & 0x80 != 0) {
                        0xff
                    } else {
                        0
                    };
                    let mut v = [fill; 16];
                    v[..n].copy_from_slice(raw);
                    self.stack.push(Value::Int(i128::from_le_bytes(v)));
                }
                b'G' => {
                    let raw = self.take(8, "BINFLOAT")?;
                    let v = f64::from_be_bytes(raw.try_into().expect("8 bytes"));
                    self.stack.push(Value::Float(v));
                }
                b'N' => self.stack.push(Value::None),
                0x88 => self.stack.push(Value::Bool(true)),
                0x89 => self.stack.push(Value::Bool(false)),
                b'c' => {
                    let module = self.line("GLOBAL")?;
                    let name = self.line("GLOBAL")?;
                    self.push_node(Node::Global(format!("{module}.{name}")));
                }
                0x93 => {
                    let name = self.pop("STACK_GLOBAL")?;
                    let module = self.pop("STACK_GLOBAL")?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(format!(
                            "corrupt pickle: STACK_GLOBAL at offset {at} without two strings"
                        ));
                    };
                    self.push_node(Node::Global(format!("{module}.{name}")));
                }
                b'R' | 0x81 => {
                    let args = self.pop("REDUCE")?;
                    let callable = self.pop("REDUCE")?;
                    self.call(callable, args);
                }
                0x92 => {
                    // NEWOBJ_EX: keyword arguments dropped (nothing torch writes uses them).
                    let _kwargs = self.pop("NEWOBJ_EX")?;
                    let args = self.pop("NEWOBJ_EX")?;
                    let callable = self.pop("NEWOBJ_EX")?;
                    self.call(callable, args);
                }
                b'b' => {
                    // BUILD sets an object's state (`__setstate__`): nothing a state dict's
                    // tensors depend on (an OrderedDict's `_metadata`, a tensor's hooks).
                    self.pop("BUILD")?;
                    let obj = self.pop("BUILD")?;
                    self.stack.push(obj);
                }
                b's' => {
                    let v = self.pop("SETITEM")?;
                    let k = self.pop("SETITEM")?;
                    self.set_items(vec![k, v], "SETITEM")?;
                }
                b'u' => {
                    let items = self.pop_mark("SETITEMS")?;
                    self.set_items(items, "SETITEMS")?;
                }
                b'a' => {
                    let v = self.pop("APPEND")?;
                    self.append(vec![v], "APPEND")?;
                }
                b'e' | 0x90 => {
                    let items = self.pop_mark("APPENDS")?;
                    self.append(items, "APPENDS")?;
                }
                b'q' => {
                    let k = self.uint(1, "BINPUT")?;
                    self.memo_put(k, "BINPUT")?;
                }
                b'r' => {
                    let k = self.uint(4, "LONG_BINPUT")?;
                    self.memo_put(k, "LONG_BINPUT")?;
                }
                0x94 => {
                    let k = self.memo.len() as u64;
                    self.memo_put(k, "MEMOIZE")?;
                }
                b'h' => {
                    let k = self.uint(1, "BINGET")?;
                    let v = self.memo_get(k)?;
                    self.stack.push(v);
                }
                b'j' => {
                    let k = self.uint(4, "LONG_BINGET")?;
                    let v = self.memo_get(k)?;
                    self.stack.push(v);
                }
                b'Q' => {
                    let pid = self.pop("BINPERSID")?;
                    self.push_node(Node::PersistentId(pid));
                }
                b'0' => {
                    self.pop("POP")?;
                }
                b'1' => {
                    self.pop_mark("POP_MARK")?;
                }
                b'2' => {
                    let v = self.pop("DUP")?;
                    self.stack.push(v.clone());
                    self.stack.push(v);
                }
                other => {
                    return Err(format!(
                        "pickle opcode {:?} (0x{other:02x}) at offset {at} is not supported (torch.save \
                         writes protocols 2 to 5)",
                        other as char
                    ))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_dicts_tuples_and_shared_references() {
        // pickle.dumps({'a': (1, -2, 3.5), 'b': [True, None], 'c': <memo of the tuple>}, 2)
        // by hand: PROTO 2, EMPTY_DICT, MARK, 'a', MARK 1 -2 3.5 TUPLE, BINPUT 0, 'b',
        // EMPTY_LIST, MARK NEWTRUE NONE APPENDS, 'c', BINGET 0, SETITEMS, STOP
        let mut b = vec![0x80, 2, b'}', b'('];
        b.extend([b'X', 1, 0, 0, 0, b'a', b'(', b'K', 1, b'J']);
        b.extend((-2i32).to_le_bytes());
        b.push(b'G');
        b.extend(3.5f64.to_be_bytes());
        b.extend([b't', b'q', 0, 0x8c, 1, b'b', b']', b'(', 0x88, b'N', b'e']);
        b.extend([0x8c, 1, b'c', b'h', 0, b'u', b'.']);
        let (p, end) = unpickle(&b, 0).unwrap();
        assert_eq!(end, b.len());
        let d = p.dict(p.root.as_ref().unwrap()).unwrap();
        assert_eq!(d.len(), 3);
        let t = p.items(&d[0].1).unwrap();
        assert_eq!(t, &[Value::Int(1), Value::Int(-2), Value::Float(3.5)]);
        assert_eq!(p.items(&d[1].1).unwrap(), &[Value::Bool(true), Value::None]);
        assert_eq!(d[2].1, d[0].1, "a memo reference is the same node");
    }

    #[test]
    fn long1_is_twos_complement() {
        for (raw, want) in [
            (vec![0x80, 2, 0x8a, 1, 0xff, b'.'], -1i128),
            (vec![0x80, 2, 0x8a, 2, 0x00, 0x80, b'.'], -32768),
            (vec![0x80, 2, 0x8a, 0, b'.'], 0),
        ] {
            let (p, _) = unpickle(&raw, 0).unwrap();
            assert_eq!(p.root, Some(Value::Int(want)));
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            &[0x80, 2],
            b".",
            b"u.",
            &[b'h', 3, b'.'],
            &[b'X', 0xff, 0xff, 0xff, 0x7f],
            &[b'K', 1, b'K', 2, b's', b'.'],
            b"I1\n.",
            &[0x80, 9, b'.'],
        ] {
            assert!(unpickle(bad, 0).is_err(), "{bad:?}");
        }
    }
}
