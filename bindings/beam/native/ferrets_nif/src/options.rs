//! Parsing the option list of `new/2` and `setopts/2`.

use rustler::{Atom, LocalPid, Term};

use crate::atoms;
use crate::objects::{encode_term, Obj};

/// The table type.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    /// One object per key.
    Set,
    /// Distinct objects per key.
    Bag,
    /// Any objects per key, duplicates kept.
    DuplicateBag,
}

impl Kind {
    /// The type's atom, as `info/2` reports it.
    pub fn atom(self) -> Atom {
        match self {
            Kind::Set => atoms::set(),
            Kind::Bag => atoms::bag(),
            Kind::DuplicateBag => atoms::duplicate_bag(),
        }
    }
}

/// Who may read and write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Protection {
    /// Everyone reads and writes.
    Public,
    /// Everyone reads, the owner writes.
    Protected,
    /// Only the owner.
    Private,
}

impl Protection {
    /// The protection stored as `u8` by [`Protection::to_u8`].
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => Protection::Public,
            1 => Protection::Protected,
            _ => Protection::Private,
        }
    }

    /// The protection as `u8`.
    pub fn to_u8(self) -> u8 {
        self as u8
    }

    /// The protection of an atom (`public`, `protected` or `private`).
    pub fn from_atom(a: Atom) -> Option<Self> {
        [Protection::Public, Protection::Protected, Protection::Private].into_iter().find(|p| p.atom() == a)
    }

    /// The protection's atom.
    pub fn atom(self) -> Atom {
        match self {
            Protection::Public => atoms::public(),
            Protection::Protected => atoms::protected(),
            Protection::Private => atoms::private(),
        }
    }
}

/// The heir of a table and the data it receives.
pub struct Heir {
    /// The heir process.
    pub pid: LocalPid,
    /// The `HeirData` term, encoded.
    pub data: Obj,
}

/// A heir setting: `{heir, none}` or `{heir, Pid, Data}`.
pub enum HeirOpt {
    /// `{heir, none}`.
    None,
    /// `{heir, Pid, Data}`.
    Some(Heir),
}

/// Everything `new/2` accepts. Later options override earlier ones, as in ETS.
pub struct Options {
    /// The table type.
    pub kind: Kind,
    /// Access rights.
    pub protection: Protection,
    /// Whether the name resolves the table.
    pub named: bool,
    /// 1-based key position.
    pub keypos: usize,
    /// The heir, if any.
    pub heir: Option<Heir>,
    /// Accepted and reported by `info/2`.
    pub read_concurrency: bool,
    /// Accepted and reported by `info/2`: `true`, `false` or `auto`.
    pub write_concurrency: Atom,
    /// Accepted and reported by `info/2`.
    pub decentralized_counters: bool,
    /// Accepted and reported by `info/2`.
    pub compressed: bool,
}

/// Why an option list was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum OptError {
    /// Not an option `new/2` knows.
    Bad,
    /// `ordered_set`, which ferrets does not support yet.
    OrderedSet,
}

/// Parses a heir option tuple.
pub fn parse_heir(opt: Term<'_>) -> Option<HeirOpt> {
    if let Ok((tag, none)) = opt.decode::<(Atom, Atom)>() {
        return (tag == atoms::heir() && none == atoms::none()).then_some(HeirOpt::None);
    }
    let (tag, pid, data) = opt.decode::<(Atom, LocalPid, Term<'_>)>().ok()?;
    if tag != atoms::heir() {
        return None;
    }
    let data = encode_term(opt.get_env().as_c_arg(), data.as_c_arg()).ok()?;
    // As ETS does, a heir that is not alive when it is set is no heir.
    if !pid.is_alive(opt.get_env()) {
        return Some(HeirOpt::None);
    }
    Some(HeirOpt::Some(Heir { pid, data }))
}

/// Parses the option list of `new/2`.
pub fn parse(options: Term<'_>) -> Result<Options, OptError> {
    let list: Vec<Term<'_>> = crate::raw::proper_list(options).map_err(|_| OptError::Bad)?;
    let mut o = Options {
        kind: Kind::Set,
        protection: Protection::Protected,
        named: false,
        keypos: 1,
        heir: None,
        read_concurrency: false,
        write_concurrency: atoms::false_(),
        decentralized_counters: false,
        compressed: false,
    };
    let mut ordered = false;
    let mut counters_given = false;
    for opt in list {
        if let Ok(a) = opt.decode::<Atom>() {
            match a {
                a if a == atoms::set() => (o.kind, ordered) = (Kind::Set, false),
                a if a == atoms::bag() => (o.kind, ordered) = (Kind::Bag, false),
                a if a == atoms::duplicate_bag() => (o.kind, ordered) = (Kind::DuplicateBag, false),
                a if a == atoms::ordered_set() => ordered = true,
                a if a == atoms::public() => o.protection = Protection::Public,
                a if a == atoms::protected() => o.protection = Protection::Protected,
                a if a == atoms::private() => o.protection = Protection::Private,
                a if a == atoms::named_table() => o.named = true,
                a if a == atoms::compressed() => o.compressed = true,
                _ => return Err(OptError::Bad),
            }
        } else if let Ok((tag, value)) = opt.decode::<(Atom, Term<'_>)>() {
            let flag = value.decode::<bool>();
            if tag == atoms::keypos() {
                o.keypos = value.decode::<usize>().ok().filter(|&p| p >= 1).ok_or(OptError::Bad)?;
            } else if tag == atoms::read_concurrency() {
                o.read_concurrency = flag.map_err(|_| OptError::Bad)?;
            } else if tag == atoms::write_concurrency() {
                let a = value.decode::<Atom>().map_err(|_| OptError::Bad)?;
                if a != atoms::true_() && a != atoms::false_() && a != atoms::auto() {
                    return Err(OptError::Bad);
                }
                o.write_concurrency = a;
            } else if tag == atoms::decentralized_counters() {
                o.decentralized_counters = flag.map_err(|_| OptError::Bad)?;
                counters_given = true;
            } else if tag == atoms::heir() {
                match parse_heir(opt).ok_or(OptError::Bad)? {
                    HeirOpt::None => o.heir = None,
                    HeirOpt::Some(h) => o.heir = Some(h),
                }
            } else {
                return Err(OptError::Bad);
            }
        } else if let Some(h) = parse_heir(opt) {
            o.heir = match h {
                HeirOpt::None => None,
                HeirOpt::Some(h) => Some(h),
            };
        } else {
            return Err(OptError::Bad);
        }
    }
    if ordered {
        return Err(OptError::OrderedSet);
    }
    // As ETS on OTP 25: `{write_concurrency, auto}` implies decentralized
    // counters, and without write concurrency there are none.
    if !counters_given && o.write_concurrency == atoms::auto() {
        o.decentralized_counters = true;
    }
    if o.write_concurrency == atoms::false_() {
        o.decentralized_counters = false;
    }
    Ok(o)
}
