//! A [`Program`]: buffers, the memories over them, and the primitives that run on those
//! memories in order. Memories never leave it, so no two threads can reach one buffer: a
//! program runs from one caller at a time (`&mut`), and what programs share, packed weights
//! ([`Constant`]), is never a destination.

use std::sync::Arc;

use crate::{
    Arg, DataType, DnnlError, Engine, Layout, Memory, MemoryDesc, Primitive, PrimitiveDesc, Result, Stream,
};

/// Values packed once into a layout a primitive chose (a layer's weights or bias), shared by
/// every program that reads them.
#[derive(Debug)]
pub struct Constant {
    mem: Memory,
}

impl Constant {
    /// `values` (row major, of `from`) packed into `want`.
    pub fn pack(engine: &Engine, values: &[f32], from: &MemoryDesc, want: &MemoryDesc) -> Result<Constant> {
        let mut src = Memory::alloc(engine, from)?;
        src.write(values)?;
        if from == want {
            return Ok(Constant { mem: src });
        }
        let dst = Memory::alloc(engine, want)?;
        let pd = crate::reorder(engine, from, want)?;
        let mut stream = Stream::new(engine)?;
        Primitive::new(&pd)?.execute(&mut stream, &[(Arg::Src, &src), (Arg::Dst, &dst)])?;
        stream.wait()?;
        Ok(Constant { mem: dst })
    }

    /// Its layout.
    pub fn desc(&self) -> &MemoryDesc {
        self.mem.desc()
    }
}

/// A memory of a [`Program`], by the order it was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemId(usize);

enum Step {
    Prim(Primitive, Vec<(Arg, MemId)>),
    /// A computation on the host between two plain `f32` memories.
    Host(MemId, MemId, HostFn),
}

/// What a host step computes: the destination's values from the source's.
pub type HostFn = Box<dyn Fn(&[f32]) -> Vec<f32> + Send>;

enum Mem {
    View(Box<Memory>),
    Const(Arc<Constant>),
}

impl Mem {
    fn memory(&self) -> &Memory {
        match self {
            Mem::View(m) => m,
            Mem::Const(c) => &c.mem,
        }
    }
}

/// Buffers, memories and steps, run in order on one stream.
pub struct Program {
    stream: Stream,
    buffers: Vec<Arc<Memory>>,
    mems: Vec<Mem>,
    steps: Vec<Step>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Program({} buffers, {} memories, {} steps)",
            self.buffers.len(),
            self.mems.len(),
            self.steps.len()
        )
    }
}

impl Program {
    /// A program with buffers of `sizes` bytes and no memories or steps yet.
    pub fn new(engine: &Engine, sizes: &[usize]) -> Result<Program> {
        let buffers = sizes
            .iter()
            .map(|&n| {
                Memory::alloc(
                    engine,
                    &MemoryDesc::new(&[n.max(1)], DataType::U8, Layout::Plain)?,
                )
                .map(Arc::new)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Program {
            stream: Stream::new(engine)?,
            buffers,
            mems: Vec::new(),
            steps: Vec::new(),
        })
    }

    /// A memory of `md` over buffer `buffer` from byte `offset` (refused if it does not fit).
    pub fn view(&mut self, engine: &Engine, buffer: usize, md: &MemoryDesc, offset: usize) -> Result<MemId> {
        let base = self
            .buffers
            .get(buffer)
            .ok_or_else(|| DnnlError::Invalid(format!("no buffer {buffer}")))?;
        self.mems
            .push(Mem::View(Box::new(Memory::view(engine, md, base, offset)?)));
        Ok(MemId(self.mems.len() - 1))
    }

    /// A constant the program reads (never a destination).
    pub fn constant(&mut self, c: Arc<Constant>) -> MemId {
        self.mems.push(Mem::Const(c));
        MemId(self.mems.len() - 1)
    }

    fn mem(&self, id: MemId) -> Result<&Mem> {
        self.mems
            .get(id.0)
            .ok_or_else(|| DnnlError::Invalid(format!("no memory {}", id.0)))
    }

    /// Appends the primitive of `pd` on `args`, checked now against what it takes.
    pub fn step(&mut self, pd: &PrimitiveDesc, args: Vec<(Arg, MemId)>) -> Result<()> {
        let prim = Primitive::new(pd)?;
        let mems = args
            .iter()
            .map(|(a, id)| {
                let m = self.mem(*id)?;
                if *a == Arg::Dst && matches!(m, Mem::Const(_)) {
                    return Err(DnnlError::Invalid("a constant cannot be a destination".into()));
                }
                Ok((*a, m.memory()))
            })
            .collect::<Result<Vec<_>>>()?;
        prim.check(&mems)?;
        self.steps.push(Step::Prim(prim, args));
        Ok(())
    }

    /// Appends a host computation from plain `f32` memory `src` into plain `f32` memory `dst`.
    pub fn host_step(&mut self, src: MemId, dst: MemId, f: HostFn) -> Result<()> {
        let (s, d) = (self.mem(src)?, self.mem(dst)?);
        if !s.memory().desc().is_plain() || !d.memory().desc().is_plain() || matches!(d, Mem::Const(_)) {
            return Err(DnnlError::Invalid(
                "a host step needs plain memories and a writable destination".into(),
            ));
        }
        self.steps.push(Step::Host(src, dst, f));
        Ok(())
    }

    /// How many steps it has.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Copies `values` into plain memory `id` (not a constant).
    pub fn write(&mut self, id: MemId, values: &[f32]) -> Result<()> {
        match self.mems.get_mut(id.0) {
            Some(Mem::View(m)) => m.write(values),
            _ => Err(DnnlError::Invalid(format!("memory {} cannot be written", id.0))),
        }
    }

    /// Copies plain memory `id` out.
    pub fn read(&mut self, id: MemId, out: &mut [f32]) -> Result<()> {
        self.stream.wait()?;
        self.mem(id)?.memory().read(out)
    }

    /// Runs step `i` (and waits for it).
    pub fn run_step(&mut self, i: usize) -> Result<()> {
        let Program {
            stream, mems, steps, ..
        } = self;
        match steps
            .get(i)
            .ok_or_else(|| DnnlError::Invalid(format!("no step {i}")))?
        {
            Step::Prim(prim, args) => {
                let a: Vec<(Arg, &Memory)> =
                    args.iter().map(|(arg, id)| (*arg, mems[id.0].memory())).collect();
                prim.execute(stream, &a)?;
            }
            Step::Host(src, dst, f) => {
                stream.wait()?;
                let s = mems[src.0].memory();
                let mut x = vec![0f32; s.desc().dims().iter().product()];
                s.read(&mut x)?;
                let y = f(&x);
                match &mut mems[dst.0] {
                    Mem::View(m) => m.write(&y)?,
                    Mem::Const(_) => return Err(DnnlError::Invalid("a constant cannot be written".into())),
                }
            }
        }
        stream.wait()
    }

    /// Runs every step in order.
    pub fn run(&mut self) -> Result<()> {
        for i in 0..self.steps.len() {
            self.run_step(i)?;
        }
        Ok(())
    }
}
