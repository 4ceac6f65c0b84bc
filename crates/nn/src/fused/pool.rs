//! A per-thread free list of `f32` buffers, so the kernels' large per-step buffers are reused
//! from one training step to the next instead of being mapped fresh (and page-faulted in) by
//! the allocator every time: buffers above glibc's mmap threshold otherwise cost more in page
//! faults than the arithmetic on them.

use std::cell::RefCell;

/// Buffers kept per thread; beyond it the smallest is dropped.
const KEEP: usize = 32;

thread_local! {
    static FREE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` values whose contents are unspecified (for buffers overwritten in full).
pub fn scratch(len: usize) -> Vec<f32> {
    let reused = FREE.with(|free| {
        let mut free = free.borrow_mut();
        let best = (0..free.len()).filter(|&i| free[i].capacity() >= len).min_by_key(|&i| free[i].capacity());
        best.map(|i| free.swap_remove(i))
    });
    match reused {
        Some(mut v) => {
            // Shrinking keeps the old values; growing within capacity writes zeros.
            v.resize(len, 0.0);
            v
        }
        None => vec![0.0; len],
    }
}

/// A buffer of `len` zeros.
pub fn zeros(len: usize) -> Vec<f32> {
    let mut v = scratch(len);
    v.fill(0.0);
    v
}

/// A copy of a tensor's values in a pooled buffer (a memcpy, unlike `as_vec`).
pub fn of_tensor<S: dfdx::shapes::Shape>(t: &dfdx::tensor::Tensor<S, f32, dfdx::tensor::Cpu>) -> Vec<f32> {
    let mut v = scratch(dfdx::shapes::HasShape::shape(t).num_elements());
    t.copy_into(&mut v);
    v
}

/// A copy of `values` in a pooled buffer.
pub fn copy(values: &[f32]) -> Vec<f32> {
    let mut v = scratch(values.len());
    v.copy_from_slice(values);
    v
}

/// Returns buffers to this thread's free list.
pub fn recycle(buffers: impl IntoIterator<Item = Vec<f32>>) {
    FREE.with(|free| {
        let mut free = free.borrow_mut();
        for v in buffers {
            if v.capacity() == 0 {
                continue;
            }
            free.push(v);
            if free.len() > KEEP {
                let smallest = (0..free.len()).min_by_key(|&i| free[i].capacity()).unwrap_or(0);
                free.swap_remove(smallest);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_buffers_are_reused_and_zeroed_on_request() {
        let mut v = scratch(1000);
        v.fill(7.0);
        let ptr = v.as_ptr();
        recycle([v]);
        let z = zeros(500);
        assert_eq!(z.as_ptr(), ptr, "the recycled buffer is reused");
        assert!(z.iter().all(|&x| x == 0.0));
        assert_eq!(z.len(), 500);
        recycle([z]);
        let big = scratch(2000);
        assert_ne!(big.as_ptr(), ptr, "too small to reuse");
        assert_eq!(big.len(), 2000);
    }
}
