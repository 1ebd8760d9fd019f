//! NumPy `.npy` files, format versions 1.0, 2.0 and 3.0.
//!
//! Reads little-endian `<f4`, `<f8`, `<i4`, `<i8` and `|u1` arrays in C order, of any rank.
//! Fortran order, big-endian data and other dtypes are refused with a message that names the
//! file and what it holds. Writes version 1.0 (2.0 when the header does not fit), C order,
//! header padded so the data starts on a 64-byte boundary, through a temporary file and a
//! rename so a reader never sees half a file.

use crate::Result;
use anyhow::{anyhow, bail, ensure, Context};
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// The numbers of an array, in one of the dtypes the engine reads.
#[derive(Clone, Debug, PartialEq)]
pub enum NpyData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    U8(Vec<u8>),
}

/// An array read from a `.npy` file: shape (C order) and data.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: NpyData,
}

impl NpyData {
    /// The dtype as NumPy spells it in a header (`<f4`, ...).
    pub fn descr(&self) -> &'static str {
        match self {
            NpyData::F32(_) => "<f4",
            NpyData::F64(_) => "<f8",
            NpyData::I32(_) => "<i4",
            NpyData::I64(_) => "<i8",
            NpyData::U8(_) => "|u1",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            NpyData::F32(v) => v.len(),
            NpyData::F64(v) => v.len(),
            NpyData::I32(v) => v.len(),
            NpyData::I64(v) => v.len(),
            NpyData::U8(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Element types that can be written to a `.npy` file.
pub trait NpyElement: Copy {
    const DESCR: &'static str;
    fn put(self, out: &mut Vec<u8>);
}

macro_rules! npy_element {
    ($t:ty, $descr:literal) => {
        impl NpyElement for $t {
            const DESCR: &'static str = $descr;
            fn put(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    };
}
npy_element!(f32, "<f4");
npy_element!(f64, "<f8");
npy_element!(i32, "<i4");
npy_element!(i64, "<i8");
npy_element!(u8, "|u1");

impl NpyArray {
    /// A rank-2 array as (rows, cols, row-major f64 values); f32 values are widened exactly.
    /// Errors (naming `what`) unless the array is a 2-D float matrix.
    pub fn to_f64_matrix(&self, what: &str) -> Result<(usize, usize, Vec<f64>)> {
        let (r, c) = self.dims2(what)?;
        let v = match &self.data {
            NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::F64(v) => v.clone(),
            other => bail!("{what}: expected float32 or float64 values (<f4, <f8), found {}", other.descr()),
        };
        Ok((r, c, v))
    }

    /// The (rows, cols) of a rank-2 array, or an error naming `what`.
    pub fn dims2(&self, what: &str) -> Result<(usize, usize)> {
        match self.shape[..] {
            [r, c] => Ok((r, c)),
            _ => bail!("{what}: expected a 2-D array (points x features), found shape {:?}", self.shape),
        }
    }

    /// A rank-1 integer array (any of the integer dtypes) as i64: labels, indices.
    pub fn to_i64_vec(&self, what: &str) -> Result<Vec<i64>> {
        ensure!(
            self.shape.len() == 1,
            "{what}: expected a 1-D array of integer labels, found shape {:?}",
            self.shape
        );
        Ok(match &self.data {
            NpyData::I32(v) => v.iter().map(|&x| x as i64).collect(),
            NpyData::I64(v) => v.clone(),
            NpyData::U8(v) => v.iter().map(|&x| x as i64).collect(),
            other => bail!("{what}: expected integer labels (<i4, <i8, |u1), found {}", other.descr()),
        })
    }
}

/// Reads a `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&bytes).with_context(|| format!("{} is not a usable .npy file", path.display()))
}

/// Parses the bytes of a `.npy` file.
pub fn parse(bytes: &[u8]) -> Result<NpyArray> {
    ensure!(bytes.len() >= 10 && bytes.starts_with(MAGIC), "it does not start with the .npy magic bytes");
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            ensure!(bytes.len() >= 12, "the header is truncated");
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        _ => bail!("format version {major}.{minor} is not supported (1.0, 2.0, 3.0 are)"),
    };
    let end = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| anyhow!("the header is truncated"))?;
    let header = std::str::from_utf8(&bytes[start..end]).map_err(|_| anyhow!("the header is not text"))?;
    let h = parse_header(header)?;
    ensure!(
        !h.fortran_order,
        "it is stored in Fortran (column-major) order; save it in C order \
         (numpy.ascontiguousarray) first"
    );
    let n = h
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| anyhow!("shape {:?} is too large", h.shape))?;
    let body = &bytes[end..];
    let width = match h.descr.as_str() {
        "<f4" | "<i4" => 4,
        "<f8" | "<i8" => 8,
        "|u1" | "<u1" => 1,
        d if d.starts_with('>') => {
            bail!("its data are big-endian ({d}); convert to little-endian (e.g. x.astype('<f4'))")
        }
        d => bail!(
            "its dtype {d} is not one ddr-engine reads (float32, float64, int32, int64, uint8: \
             <f4, <f8, <i4, <i8, |u1; which of them a file may hold depends on its use)"
        ),
    };
    ensure!(
        body.len() == n * width,
        "shape {:?} of {} needs {} data bytes but the file has {}",
        h.shape,
        h.descr,
        n * width,
        body.len()
    );
    let data = match h.descr.as_str() {
        "<f4" => NpyData::F32(chunks(body, f32::from_le_bytes)),
        "<f8" => NpyData::F64(chunks(body, f64::from_le_bytes)),
        "<i4" => NpyData::I32(chunks(body, i32::from_le_bytes)),
        "<i8" => NpyData::I64(chunks(body, i64::from_le_bytes)),
        _ => NpyData::U8(body.to_vec()),
    };
    Ok(NpyArray { shape: h.shape, data })
}

fn chunks<const W: usize, T>(body: &[u8], f: fn([u8; W]) -> T) -> Vec<T> {
    body.chunks_exact(W).map(|c| f(c.try_into().unwrap())).collect()
}

struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// Parses the Python dict literal of a header: `{'descr': '<f4', 'fortran_order': False,
/// 'shape': (3, 4), }`, in any key order, with single or double quotes.
fn parse_header(s: &str) -> Result<Header> {
    let mut p = Cursor { s: s.trim_end().as_bytes(), i: 0 };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        p.skip_ws();
        if p.eat(b'}') {
            break;
        }
        let key = p.string()?;
        p.skip_ws();
        p.expect(b':')?;
        p.skip_ws();
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => bail!("the header has an unknown key '{other}'"),
        }
        p.skip_ws();
        if !p.eat(b',') {
            p.skip_ws();
            p.expect(b'}')?;
            break;
        }
    }
    Ok(Header {
        descr: descr.ok_or_else(|| anyhow!("the header has no 'descr'"))?,
        fortran_order: fortran.ok_or_else(|| anyhow!("the header has no 'fortran_order'"))?,
        shape: shape.ok_or_else(|| anyhow!("the header has no 'shape'"))?,
    })
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        let hit = self.s.get(self.i) == Some(&c);
        self.i += hit as usize;
        hit
    }
    fn expect(&mut self, c: u8) -> Result<()> {
        ensure!(self.eat(c), "the header is malformed: expected '{}' at byte {}", c as char, self.i);
        Ok(())
    }
    fn string(&mut self) -> Result<String> {
        let q = *self
            .s
            .get(self.i)
            .filter(|&&q| q == b'\'' || q == b'"')
            .ok_or_else(|| anyhow!("the header is malformed: expected a quoted string"))?;
        let start = self.i + 1;
        let len = self.s[start..]
            .iter()
            .position(|&c| c == q)
            .ok_or_else(|| anyhow!("the header is malformed: unterminated string"))?;
        self.i = start + len + 1;
        Ok(String::from_utf8_lossy(&self.s[start..start + len]).into_owned())
    }
    fn boolean(&mut self) -> Result<bool> {
        for (word, v) in [(&b"True"[..], true), (&b"False"[..], false)] {
            if self.s[self.i..].starts_with(word) {
                self.i += word.len();
                return Ok(v);
            }
        }
        bail!("the header is malformed: 'fortran_order' is not True or False")
    }
    fn tuple(&mut self) -> Result<Vec<usize>> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.skip_ws();
            if self.eat(b')') {
                return Ok(dims);
            }
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).unwrap();
            dims.push(digits.parse().map_err(|_| anyhow!("the header is malformed: bad shape entry"))?);
            self.skip_ws();
            if !self.eat(b',') {
                self.skip_ws();
                self.expect(b')')?;
                return Ok(dims);
            }
        }
    }
}

/// The bytes of a `.npy` file holding `data` with `shape` (C order).
pub fn encode<T: NpyElement>(shape: &[usize], data: &[T]) -> Result<Vec<u8>> {
    let n: usize = shape.iter().product();
    ensure!(n == data.len(), "{} values do not fill shape {shape:?}", data.len());
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{}', 'fortran_order': False, 'shape': {shape_txt}, }}", T::DESCR);
    // Version 1.0 has a 2-byte header length; a header longer than that needs version 2.0.
    let (version, prefix) = if header.len() + 11 < 65_000 { (1u8, 10) } else { (2u8, 12) };
    let total = (prefix + header.len() + 1).div_ceil(64) * 64;
    while prefix + header.len() + 1 < total {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(total + n * std::mem::size_of::<T>());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    for &x in data {
        x.put(&mut out);
    }
    Ok(out)
}

/// Writes `data` with `shape` to `path` atomically (see [`super::AtomicFile`]).
pub fn write<T: NpyElement>(path: &Path, shape: &[usize], data: &[T]) -> Result<()> {
    let bytes = encode(shape, data)?;
    super::write_atomic(path, |w| Ok(std::io::Write::write_all(w, &bytes)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_dtype_and_rank() {
        let cases: Vec<(Vec<usize>, NpyData, Vec<u8>)> = vec![
            (
                vec![2, 3],
                NpyData::F32(vec![1.0, -2.5, 3.0, f32::MAX, 0.0, -0.0]),
                encode(&[2, 3], &[1.0f32, -2.5, 3.0, f32::MAX, 0.0, -0.0]).unwrap(),
            ),
            (vec![3], NpyData::F64(vec![1e-300, 2.0, -3.5]), encode(&[3], &[1e-300f64, 2.0, -3.5]).unwrap()),
            (
                vec![1, 2, 2],
                NpyData::I32(vec![-1, 2, 3, i32::MIN]),
                encode(&[1, 2, 2], &[-1i32, 2, 3, i32::MIN]).unwrap(),
            ),
            (vec![2], NpyData::I64(vec![i64::MAX, 7]), encode(&[2], &[i64::MAX, 7i64]).unwrap()),
            (vec![0, 4], NpyData::U8(vec![]), encode::<u8>(&[0, 4], &[]).unwrap()),
            (vec![], NpyData::F64(vec![4.0]), encode(&[], &[4.0f64]).unwrap()),
        ];
        for (shape, data, bytes) in cases {
            assert_eq!((10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64, 0);
            let a = parse(&bytes).unwrap();
            assert_eq!(a.shape, shape);
            assert_eq!(a.data, data);
        }
    }

    #[test]
    fn reads_what_numpy_writes() {
        // np.save of np.arange(6, dtype='<i8').reshape(2, 3), header exactly as NumPy 2 writes it.
        let mut b = b"\x93NUMPY\x01\x00v\x00".to_vec();
        let h = "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }";
        b.extend_from_slice(h.as_bytes());
        b.extend(std::iter::repeat_n(b' ', 118 - h.len() - 1));
        b.push(b'\n');
        for i in 0..6i64 {
            b.extend_from_slice(&i.to_le_bytes());
        }
        let a = parse(&b).unwrap();
        assert_eq!(a.shape, vec![2, 3]);
        assert!(a.to_i64_vec("x").unwrap_err().to_string().contains("1-D"));
        assert_eq!(a.data, NpyData::I64((0..6).collect()));
        // Version 3.0 (utf-8 header), double quotes, keys in another order.
        let mut b = b"\x93NUMPY\x03\x00".to_vec();
        let h = "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"|u1\"}\n";
        b.extend_from_slice(&(h.len() as u32).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(&[7, 9]);
        let a = parse(&b).unwrap();
        assert_eq!(a.to_i64_vec("labels").unwrap(), vec![7, 9]);
    }

    fn with_header(h: &str, body: &[u8]) -> Vec<u8> {
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(h.len() as u16).to_le_bytes());
        b.extend_from_slice(h.as_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn refuses_what_it_cannot_read_with_a_reason() {
        let err = |b: &[u8]| format!("{:#}", parse(b).unwrap_err());
        let f = "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }\n";
        assert!(err(&with_header(f, &[0; 4])).contains("Fortran"));
        let be = "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }\n";
        assert!(err(&with_header(be, &[0; 8])).contains("big-endian"));
        let c = "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }\n";
        assert!(err(&with_header(c, &[0; 8])).contains("not one ddr-engine reads"));
        let short = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }\n";
        assert!(err(&with_header(short, &[0; 8])).contains("needs 12 data bytes"));
        assert!(err(b"PK\x03\x04 not npy").contains("magic"));
        let bad = "{'descr': '<f4', 'fortran_order': False, 'shape': (x,), }\n";
        assert!(err(&with_header(bad, &[])).contains("malformed"));
        let a = parse(&encode(&[2], &[1i32, 2]).unwrap()).unwrap();
        assert!(a.to_f64_matrix("X").unwrap_err().to_string().contains("2-D"));
        let a = parse(&encode(&[1, 2], &[1i32, 2]).unwrap()).unwrap();
        assert!(a.to_f64_matrix("X").unwrap_err().to_string().contains("float32"));
    }

    #[test]
    fn write_then_read_a_file_and_name_it_in_errors() {
        let dir = std::env::temp_dir().join(format!("ddr-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("y.npy");
        write(&p, &[2, 2], &[1.0f32, 2.0, 3.0, 4.0]).unwrap();
        let (r, c, v) = read(&p).unwrap().to_f64_matrix("y").unwrap();
        assert_eq!((r, c, v), (2, 2, vec![1.0, 2.0, 3.0, 4.0]));
        std::fs::write(&p, b"junk").unwrap();
        assert!(format!("{:#}", read(&p).unwrap_err()).contains("y.npy"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
