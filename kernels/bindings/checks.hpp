// Boundary checks shared by every binding: inputs arrive as numpy arrays or CPU torch tensors
// and are viewed, never copied; anything else is a TypeError / ValueError naming the argument.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace sb::bind {

namespace py = pybind11;

// A numpy view of obj (numpy array, or CPU torch tensor through Tensor.numpy(), which shares
// memory). Never copies: a non-contiguous input is rejected by the typed checks below.
py::array as_array(py::handle obj, const char* name);

template <typename T>
const char* dtype_name();
template <> inline const char* dtype_name<float>() { return "float32"; }
template <> inline const char* dtype_name<int32_t>() { return "int32"; }
template <> inline const char* dtype_name<int64_t>() { return "int64"; }
template <> inline const char* dtype_name<uint8_t>() { return "uint8"; }
template <> inline const char* dtype_name<double>() { return "float64"; }

// A C-contiguous array of dtype T and the given ndim (-1: any), or a clear error.
template <typename T>
py::array_t<T> typed(py::handle obj, const char* name, int ndim = -1, bool writeable = false) {
    py::array a = as_array(obj, name);
    if (!a.dtype().is(py::dtype::of<T>()))
        throw py::type_error(std::string(name) + " must have dtype " + dtype_name<T>() + ", got " +
                             std::string(py::str(a.dtype())));
    if (ndim >= 0 && a.ndim() != ndim)
        throw py::value_error(std::string(name) + " must be " + std::to_string(ndim) + "-D, got " +
                              std::to_string(a.ndim()) + "-D");
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) +
                              " must be C-contiguous (call .contiguous() / np.ascontiguousarray "
                              "explicitly; sparsebench never copies silently)");
    if (writeable && !a.writeable()) throw py::value_error(std::string(name) + " must be writeable");
    return py::reinterpret_borrow<py::array_t<T>>(a);
}

std::string shape_str(const py::array& a);
void require_shape(const py::array& a, const char* name, const std::vector<py::ssize_t>& shape);
// Every dimension fits the int32 indices the sparse formats use.
void require_int32_extent(int64_t value, const char* what);

// Shared keyword arguments of every kernel: ISA variant (None: env / best) and thread count.
struct CallOpts {
    int isa;
    int threads;
};
CallOpts call_opts(const py::object& isa, int threads);

}  // namespace sb::bind
