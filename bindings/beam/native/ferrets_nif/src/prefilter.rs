//! What a `select`/`match` walk checks on an object's stored bytes before
//! it builds the object's term: per clause of the match specification, the
//! head's arity, its ground elements, and the guards that compare a head
//! variable with a number (`ferrets:prefilter/1` finds them). A filter may
//! pass objects the specification then rejects, never the other way round:
//! whatever it cannot decide on the bytes, it passes.

use rustler::{Env, Error, NifResult, Term};

use crate::codec;

/// A guard's comparison operator, applied as `Element Op Number`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    /// `==`: numeric equality (`1 == 1.0`).
    Eq,
    /// `=:=`: the same type and value.
    Exact,
}

impl Op {
    fn from_atom(name: &str) -> Option<Op> {
        Some(match name {
            "<" => Op::Lt,
            "=<" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" => Op::Eq,
            "=:=" => Op::Exact,
            _ => return None,
        })
    }

    /// Whether `ord` (element against number) satisfies the operator.
    fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            Op::Lt => ord == Less,
            Op::Le => ord != Greater,
            Op::Gt => ord == Greater,
            Op::Ge => ord != Less,
            Op::Eq | Op::Exact => ord == Equal,
        }
    }
}

/// A number a guard compares with.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

/// Integers that convert to `f64` exactly: an integer and a float compare
/// as the two numbers they are only for these (beyond, the filter passes).
const EXACT_IN_F64: u64 = 1 << 53;

/// `Element Op Number` for element `pos` (1-based) of the object.
#[derive(Clone, Copy, Debug)]
struct Bound {
    pos: usize,
    op: Op,
    num: Num,
}

impl Bound {
    /// Whether the encoded element `bytes` satisfies the bound: `None` when
    /// the bytes cannot tell (a big integer or anything in the external
    /// format, an integer too big to compare with a float exactly).
    fn admits(&self, bytes: &[u8]) -> Option<bool> {
        let word = || bytes.get(1..9).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        let ord = match (bytes.first()?, self.num) {
            (&codec::INT, Num::Int(c)) => (word()? as i64).cmp(&c),
            (&codec::FLOAT, Num::Float(c)) => f64::from_bits(word()?).partial_cmp(&c)?,
            (&codec::INT, Num::Float(c)) => {
                let v = word()? as i64;
                if v.unsigned_abs() > EXACT_IN_F64 {
                    return None;
                }
                if self.op == Op::Exact {
                    return Some(false);
                }
                (v as f64).partial_cmp(&c)?
            }
            (&codec::FLOAT, Num::Int(c)) => {
                if c.unsigned_abs() > EXACT_IN_F64 {
                    return None;
                }
                if self.op == Op::Exact {
                    return Some(false);
                }
                f64::from_bits(word()?).partial_cmp(&(c as f64))?
            }
            // Any other term sorts after every number, except what the
            // external format may hold (big integers, and other types).
            (&codec::EXT, _) => return None,
            _ => std::cmp::Ordering::Greater,
        };
        Some(self.op.holds(ord))
    }
}

/// One clause's conditions on an object.
pub struct Clause {
    arity: usize,
    /// Encoded elements the object must hold at their (1-based) positions.
    elems: Vec<(usize, Vec<u8>)>,
    bounds: Vec<Bound>,
}

impl Clause {
    /// Whether the encoded object `code` may match the clause: `false` only
    /// when it certainly cannot.
    pub fn admits(&self, code: &[u8]) -> bool {
        codec::tuple_arity(code) == self.arity
            && self
                .elems
                .iter()
                .all(|(pos, want)| codec::tuple_element(code, *pos).is_some_and(|r| code[r] == want[..]))
            && self
                .bounds
                .iter()
                .all(|b| codec::tuple_element(code, b.pos).is_none_or(|r| b.admits(&code[r]).unwrap_or(true)))
    }
}

/// Decodes a walk's filter: `all` (`None`: every object passes), or
/// `[{Arity, [{Pos, Constant}], [{Pos, Op, Number}]}]`, one per clause that
/// can match a tuple. Constants are kept only when they match as themselves
/// and encode as stored (see [`codec::plain`]); comparisons only with an
/// operator and number understood here.
pub fn clauses(env: Env<'_>, filter: Term<'_>) -> NifResult<Option<Vec<Clause>>> {
    if filter.is_atom() {
        return Ok(None);
    }
    type Raw<'a> = Vec<(usize, Vec<(usize, Term<'a>)>, Vec<(usize, Term<'a>, Term<'a>)>)>;
    let mut out = Vec::new();
    for (arity, consts, guards) in filter.decode::<Raw<'_>>()? {
        let mut elems = Vec::new();
        for (pos, c) in consts {
            let mut bytes = Vec::new();
            codec::encode(env.as_c_arg(), c.as_c_arg(), &mut bytes, &mut None).map_err(|()| Error::BadArg)?;
            if codec::plain(&bytes) {
                elems.push((pos, bytes));
            }
        }
        let mut bounds = Vec::new();
        for (pos, op, num) in guards {
            let Some(op) = op.atom_to_string().ok().as_deref().and_then(Op::from_atom) else { continue };
            let num = if let Ok(i) = num.decode::<i64>() {
                Num::Int(i)
            } else if let Ok(f) = num.decode::<f64>() {
                Num::Float(f)
            } else {
                continue;
            };
            bounds.push(Bound { pos, op, num });
        }
        out.push(Clause { arity, elems, bounds });
    }
    Ok(Some(out))
}
