//! The oneDNN 3.x bodies of [`super`]: one `*_primitive_desc_create` call per operation;
//! memory descriptors are handles (created, cloned and destroyed).

use std::ffi::c_void;
use std::ptr;

use super::{ConvParams, PoolAlg, PoolParams};
use crate::raw::{bindings as b, lib};
use crate::{check, dims_of, tag, Attr, DataType, DnnlError, Engine, Layout, PrimitiveDesc, Result};

/// A memory descriptor: dimensions, data type and layout (an owned oneDNN handle).
pub struct MemoryDesc(b::dnnl_memory_desc_t);

// SAFETY: a memory descriptor is immutable after creation; oneDNN reads it from any thread.
unsafe impl Send for MemoryDesc {}
// SAFETY: as above.
unsafe impl Sync for MemoryDesc {}

impl std::fmt::Debug for MemoryDesc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryDesc({:?}, {})", self.dims(), self.layout_name())
    }
}

impl Clone for MemoryDesc {
    fn clone(&self) -> MemoryDesc {
        let l = lib().expect("a descriptor exists only once oneDNN is loaded");
        let mut md = ptr::null_mut();
        // SAFETY: self is a live descriptor; the clone is a new handle we own.
        let st = unsafe { l.dnnl_memory_desc_clone(&mut md, self.0) };
        assert!(
            st == b::dnnl_success && !md.is_null(),
            "oneDNN could not clone a memory descriptor (out of memory)"
        );
        MemoryDesc(md)
    }
}

impl Drop for MemoryDesc {
    fn drop(&mut self) {
        if let Ok(l) = lib() {
            // SAFETY: created or cloned by us, destroyed once.
            unsafe { l.dnnl_memory_desc_destroy(self.0) };
        }
    }
}

/// A value of the descriptor `md` that oneDNN writes through a pointer.
fn query<T: Default>(md: b::const_dnnl_memory_desc_t, what: b::dnnl_query_t) -> T {
    let mut v = T::default();
    if let Ok(l) = lib() {
        // SAFETY: `what` names a query whose result type is T (the callers pair them as oneDNN
        // documents); md is live.
        unsafe { l.dnnl_memory_desc_query(md, what, &mut v as *mut T as *mut c_void) };
    }
    v
}

/// An array of the descriptor (dims, strides...): oneDNN returns a pointer into it.
fn query_dims(md: b::const_dnnl_memory_desc_t, what: b::dnnl_query_t) -> b::dnnl_dims_t {
    let p: usize = query::<usize>(md, what);
    if p == 0 {
        return [0; b::DNNL_MAX_NDIMS as usize];
    }
    // SAFETY: the query wrote a pointer to a dnnl_dims_t owned by md, alive while md is.
    unsafe { *(p as *const b::dnnl_dims_t) }
}

impl MemoryDesc {
    /// `dims` of `dt` in `layout`.
    pub fn new(dims: &[usize], dt: DataType, layout: Layout) -> Result<MemoryDesc> {
        let l = lib()?;
        let d = dims_of(dims)?;
        let mut md = ptr::null_mut();
        check(
            // SAFETY: out-pointer to a local; d holds dims.len() values.
            unsafe {
                l.dnnl_memory_desc_create_with_tag(
                    &mut md,
                    dims.len() as i32,
                    d.as_ptr(),
                    dt.raw(),
                    tag(layout, dims.len())?,
                )
            },
            "dnnl_memory_desc_create_with_tag",
        )?;
        Ok(MemoryDesc(md))
    }

    /// `dims` of `dt` with explicit element `strides` (a view: transposed, sub-sampled).
    pub fn strided(dims: &[usize], dt: DataType, strides: &[usize]) -> Result<MemoryDesc> {
        if strides.len() != dims.len() {
            return Err(DnnlError::Invalid(format!(
                "{} strides for {} dimensions",
                strides.len(),
                dims.len()
            )));
        }
        let l = lib()?;
        let (d, s) = (dims_of(dims)?, dims_of(strides)?);
        let mut md = ptr::null_mut();
        check(
            // SAFETY: out-pointer to a local; d and s hold dims.len() values.
            unsafe {
                l.dnnl_memory_desc_create_with_strides(
                    &mut md,
                    dims.len() as i32,
                    d.as_ptr(),
                    dt.raw(),
                    s.as_ptr(),
                )
            },
            "dnnl_memory_desc_create_with_strides",
        )?;
        Ok(MemoryDesc(md))
    }

    fn ndims(&self) -> usize {
        query::<i32>(self.0, b::dnnl_query_ndims_s32).max(0) as usize
    }

    /// The dimensions.
    pub fn dims(&self) -> Vec<usize> {
        let d = query_dims(self.0, b::dnnl_query_dims);
        d[..self.ndims()].iter().map(|&v| v as usize).collect()
    }

    /// Bytes a buffer of this descriptor needs (padding of blocked layouts included).
    pub fn size_bytes(&self) -> usize {
        match lib() {
            // SAFETY: the descriptor is live.
            Ok(l) => unsafe { l.dnnl_memory_desc_get_size(self.0) },
            Err(_) => 0,
        }
    }

    /// Bytes from a buffer's start to one past the last value this descriptor reaches: its
    /// size for dense layouts, less for a strided view whose strides span a larger tensor.
    pub fn extent_bytes(&self) -> usize {
        let Ok(l) = lib() else { return 0 };
        let kind: b::dnnl_format_kind_t = query(self.0, b::dnnl_query_format_kind);
        if kind != b::dnnl_blocked || query::<i32>(self.0, b::dnnl_query_inner_nblks_s32) != 0 {
            return self.size_bytes();
        }
        let n = self.ndims();
        let padded = query_dims(self.0, b::dnnl_query_padded_dims);
        let strides = query_dims(self.0, b::dnnl_query_strides);
        if padded[..n].contains(&0) {
            return 0;
        }
        let offset: i64 = query(self.0, b::dnnl_query_submemory_offset_s64);
        let last: i64 = (0..n).map(|d| (padded[d] - 1) * strides[d]).sum::<i64>() + 1 + offset;
        let dt: b::dnnl_data_type_t = query(self.0, b::dnnl_query_data_type);
        // SAFETY: a plain query on a data type.
        let elem = unsafe { l.dnnl_data_type_size(dt) };
        last as usize * elem
    }

    /// Whether this is the plain row-major layout of its dimensions (what kinema's tensors are).
    pub fn is_plain(&self) -> bool {
        MemoryDesc::new(&self.dims(), DataType::F32, Layout::Plain).is_ok_and(|p| p == *self)
    }

    /// A short description of the layout (`strided`, `blocked 8b`, ...), for logs.
    pub fn layout_name(&self) -> String {
        let kind: b::dnnl_format_kind_t = query(self.0, b::dnnl_query_format_kind);
        if kind != b::dnnl_blocked {
            return format!("format kind {kind}");
        }
        let n = query::<i32>(self.0, b::dnnl_query_inner_nblks_s32).max(0) as usize;
        let blks = query_dims(self.0, b::dnnl_query_inner_blks);
        let idxs = query_dims(self.0, b::dnnl_query_inner_idxs);
        let inner: Vec<String> = (0..n)
            .map(|i| format!("{}{}", blks[i], (b'a' + idxs[i] as u8) as char))
            .collect();
        if inner.is_empty() {
            "strided".into()
        } else {
            format!("blocked {}", inner.join(""))
        }
    }

    pub(crate) fn as_raw(&self) -> b::const_dnnl_memory_desc_t {
        self.0
    }
}

impl PartialEq for MemoryDesc {
    fn eq(&self, other: &MemoryDesc) -> bool {
        match lib() {
            // SAFETY: both descriptors are live.
            Ok(l) => unsafe { l.dnnl_memory_desc_equal(self.0, other.0) != 0 },
            Err(_) => false,
        }
    }
}

pub(crate) fn query_md(
    pd: b::dnnl_primitive_desc_t,
    what: b::dnnl_query_t,
    index: i32,
) -> Result<MemoryDesc> {
    let l = lib()?;
    // SAFETY: pd is alive; the result is owned by pd (cloned at once) or null.
    let p = unsafe { l.dnnl_primitive_desc_query_md(pd, what, index) };
    if p.is_null() {
        return Err(DnnlError::Invalid("the primitive has no such memory".into()));
    }
    let mut md = ptr::null_mut();
    check(
        // SAFETY: p is a live descriptor owned by pd; the clone is ours.
        unsafe { l.dnnl_memory_desc_clone(&mut md, p) },
        "dnnl_memory_desc_clone",
    )?;
    Ok(MemoryDesc(md))
}

pub(crate) fn append_sum(l: &b::DnnlLib, po: b::dnnl_post_ops_t, scale: f32) -> Result<()> {
    check(
        // SAFETY: po is alive; zero point 0 and the destination's own data type.
        unsafe { l.dnnl_post_ops_append_sum(po, scale, 0, b::dnnl_data_type_undef) },
        "dnnl_post_ops_append_sum",
    )
}

pub(crate) fn append_eltwise(
    l: &b::DnnlLib,
    po: b::dnnl_post_ops_t,
    alg: b::dnnl_alg_kind_t,
    alpha: f32,
) -> Result<()> {
    check(
        // SAFETY: po is alive.
        unsafe { l.dnnl_post_ops_append_eltwise(po, alg, alpha, 0.0) },
        "dnnl_post_ops_append_eltwise",
    )
}

fn attr_raw(attr: Option<&Attr>) -> b::const_dnnl_primitive_attr_t {
    attr.map_or(ptr::null(), |a| a.raw as *const _)
}

fn optional(md: Option<&MemoryDesc>) -> b::const_dnnl_memory_desc_t {
    md.map_or(ptr::null(), |m| m.as_raw())
}

/// A forward-inference convolution.
pub fn convolution_forward(
    engine: &Engine,
    p: &ConvParams<'_>,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    conv_forward(engine, p, attr, b::dnnl_forward_inference)
}

/// A forward-training convolution: the hint its backward passes are made from.
pub fn convolution_forward_training(
    engine: &Engine,
    p: &ConvParams<'_>,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    conv_forward(engine, p, attr, b::dnnl_forward_training)
}

fn conv_forward(
    engine: &Engine,
    p: &ConvParams<'_>,
    attr: Option<&Attr>,
    prop: b::dnnl_prop_kind_t,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let g = geometry(p)?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: out-pointer to a local; descriptors live; one value per spatial dimension.
        unsafe {
            l.dnnl_convolution_forward_primitive_desc_create(
                &mut raw,
                engine.raw,
                prop,
                b::dnnl_convolution_direct,
                p.src.as_raw(),
                p.weights.as_raw(),
                optional(p.bias),
                p.dst.as_raw(),
                g[0].as_ptr(),
                g[1].as_ptr(),
                g[2].as_ptr(),
                g[3].as_ptr(),
                attr_raw(attr),
            )
        },
        "dnnl_convolution_forward_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// A convolution's gradient with respect to its source: `p.src` is the source gradient's
/// descriptor, `p.dst` the destination gradient's; `hint` is the forward-training descriptor.
pub fn convolution_backward_data(
    engine: &Engine,
    p: &ConvParams<'_>,
    hint: &PrimitiveDesc,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let g = geometry(p)?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: as in conv_forward; hint is alive.
        unsafe {
            l.dnnl_convolution_backward_data_primitive_desc_create(
                &mut raw,
                engine.raw,
                b::dnnl_convolution_direct,
                p.src.as_raw(),
                p.weights.as_raw(),
                p.dst.as_raw(),
                g[0].as_ptr(),
                g[1].as_ptr(),
                g[2].as_ptr(),
                g[3].as_ptr(),
                hint.raw as *const _,
                attr_raw(attr),
            )
        },
        "dnnl_convolution_backward_data_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// A convolution's gradient with respect to its weights (and bias): `p.weights` and `p.bias`
/// are the gradients' descriptors, `p.dst` the destination gradient's; `hint` as above.
pub fn convolution_backward_weights(
    engine: &Engine,
    p: &ConvParams<'_>,
    hint: &PrimitiveDesc,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let g = geometry(p)?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: as in conv_forward; hint is alive.
        unsafe {
            l.dnnl_convolution_backward_weights_primitive_desc_create(
                &mut raw,
                engine.raw,
                b::dnnl_convolution_direct,
                p.src.as_raw(),
                p.weights.as_raw(),
                optional(p.bias),
                p.dst.as_raw(),
                g[0].as_ptr(),
                g[1].as_ptr(),
                g[2].as_ptr(),
                g[3].as_ptr(),
                hint.raw as *const _,
                attr_raw(attr),
            )
        },
        "dnnl_convolution_backward_weights_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// Strides, dilations (oneDNN counts 0 as none), padding before and after, as oneDNN's dims.
fn geometry(p: &ConvParams<'_>) -> Result<[b::dnnl_dims_t; 4]> {
    let dil: Vec<usize> = p.dilation.iter().map(|&d| d.saturating_sub(1)).collect();
    Ok([
        dims_of(p.strides)?,
        dims_of(&dil)?,
        dims_of(p.pad_l)?,
        dims_of(p.pad_r)?,
    ])
}

/// A forward-inference pooling from `src` to `dst`.
pub fn pooling_forward(
    engine: &Engine,
    src: &MemoryDesc,
    dst: &MemoryDesc,
    p: &PoolParams<'_>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let alg = match p.alg {
        PoolAlg::Max => b::dnnl_pooling_max,
        PoolAlg::AvgIncludePad => b::dnnl_pooling_avg_include_padding,
        PoolAlg::AvgExcludePad => b::dnnl_pooling_avg_exclude_padding,
    };
    let zeros = vec![0; p.kernel.len()];
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: out-pointer to a local; descriptors live; one value per spatial dimension.
        unsafe {
            l.dnnl_pooling_forward_primitive_desc_create(
                &mut raw,
                engine.raw,
                b::dnnl_forward_inference,
                alg,
                src.as_raw(),
                dst.as_raw(),
                dims_of(p.strides)?.as_ptr(),
                dims_of(p.kernel)?.as_ptr(),
                dims_of(&zeros)?.as_ptr(),
                dims_of(p.pad_l)?.as_ptr(),
                dims_of(p.pad_r)?.as_ptr(),
                ptr::null(),
            )
        },
        "dnnl_pooling_forward_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// An element-wise ReLU over `data` (source and destination alike).
pub fn eltwise_forward(engine: &Engine, data: &MemoryDesc) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: out-pointer to a local; data live.
        unsafe {
            l.dnnl_eltwise_forward_primitive_desc_create(
                &mut raw,
                engine.raw,
                b::dnnl_forward_inference,
                b::dnnl_eltwise_relu,
                data.as_raw(),
                data.as_raw(),
                0.0,
                0.0,
                ptr::null(),
            )
        },
        "dnnl_eltwise_forward_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// A forward-inference inner product (`src` of rank 2 to 5, `weights` `[O, src dims but N]`).
pub fn inner_product_forward(
    engine: &Engine,
    src: &MemoryDesc,
    weights: &MemoryDesc,
    bias: Option<&MemoryDesc>,
    dst: &MemoryDesc,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: out-pointer to a local; descriptors live.
        unsafe {
            l.dnnl_inner_product_forward_primitive_desc_create(
                &mut raw,
                engine.raw,
                b::dnnl_forward_inference,
                src.as_raw(),
                weights.as_raw(),
                optional(bias),
                dst.as_raw(),
                attr_raw(attr),
            )
        },
        "dnnl_inner_product_forward_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// A batched matrix product `dst = src x weights` (strided descriptors for transposes).
pub fn matmul(
    engine: &Engine,
    src: &MemoryDesc,
    weights: &MemoryDesc,
    dst: &MemoryDesc,
    attr: Option<&Attr>,
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: out-pointer to a local; descriptors live; no bias.
        unsafe {
            l.dnnl_matmul_primitive_desc_create(
                &mut raw,
                engine.raw,
                src.as_raw(),
                weights.as_raw(),
                ptr::null(),
                dst.as_raw(),
                attr_raw(attr),
            )
        },
        "dnnl_matmul_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// A softmax over `axis` of `data`.
pub fn softmax_forward(engine: &Engine, data: &MemoryDesc, axis: usize) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: out-pointer to a local; data live.
        unsafe {
            l.dnnl_softmax_forward_primitive_desc_create(
                &mut raw,
                engine.raw,
                b::dnnl_forward_inference,
                b::dnnl_softmax_accurate,
                data.as_raw(),
                data.as_raw(),
                axis as i32,
                ptr::null(),
            )
        },
        "dnnl_softmax_forward_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// A concatenation of `srcs` along `axis`; `dst` `None` lets oneDNN pick its layout.
pub fn concat(
    engine: &Engine,
    dst: Option<&MemoryDesc>,
    axis: usize,
    srcs: &[MemoryDesc],
) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let raws: Vec<b::const_dnnl_memory_desc_t> = srcs.iter().map(|m| m.as_raw()).collect();
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: raws holds srcs.len() live descriptors; dst live or null; engine alive.
        unsafe {
            l.dnnl_concat_primitive_desc_create(
                &mut raw,
                engine.raw,
                optional(dst),
                raws.len() as i32,
                axis as i32,
                raws.as_ptr(),
                ptr::null(),
            )
        },
        "dnnl_concat_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}

/// A copy from `src`'s layout to `dst`'s.
pub fn reorder(engine: &Engine, src: &MemoryDesc, dst: &MemoryDesc) -> Result<PrimitiveDesc> {
    let l = lib()?;
    let mut raw = ptr::null_mut();
    check(
        // SAFETY: descriptors live, engine alive, default attributes.
        unsafe {
            l.dnnl_reorder_primitive_desc_create(
                &mut raw,
                src.as_raw(),
                engine.raw,
                dst.as_raw(),
                engine.raw,
                ptr::null(),
            )
        },
        "dnnl_reorder_primitive_desc_create",
    )?;
    Ok(PrimitiveDesc { raw })
}
