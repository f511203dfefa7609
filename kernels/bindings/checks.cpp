#include "checks.hpp"

#include <stdexcept>

#include "../common/isa.hpp"

namespace sb::bind {

py::array as_array(py::handle obj, const char* name) {
    if (py::isinstance<py::array>(obj)) return py::reinterpret_borrow<py::array>(obj);
    // A torch.Tensor, recognised by duck typing so the extension never links against torch.
    if (py::hasattr(obj, "numpy") && py::hasattr(obj, "device") && py::hasattr(obj, "is_sparse")) {
        const std::string dev = py::str(obj.attr("device").attr("type"));
        if (dev != "cpu") throw py::value_error(std::string(name) + " must be on the CPU, got device " + dev);
        const std::string layout = py::str(obj.attr("layout"));
        if (layout != "torch.strided")
            throw py::type_error(std::string(name) + " must be a dense (strided) tensor, got layout " + layout);
        try {
            return obj.attr("detach")().attr("numpy")().cast<py::array>();
        } catch (py::error_already_set& e) {
            throw py::type_error(std::string(name) + ": cannot view tensor as an array: " + e.what());
        }
    }
    throw py::type_error(std::string(name) + " must be a numpy array or a CPU torch tensor, got " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
}

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

void require_shape(const py::array& a, const char* name, const std::vector<py::ssize_t>& shape) {
    bool ok = a.ndim() == static_cast<py::ssize_t>(shape.size());
    for (size_t d = 0; ok && d < shape.size(); ++d) ok = a.shape(d) == shape[d];
    if (!ok) {
        std::string want = "(";
        for (size_t d = 0; d < shape.size(); ++d) want += (d ? ", " : "") + std::to_string(shape[d]);
        throw py::value_error(std::string(name) + " must have shape " + want + (shape.size() == 1 ? ",)" : ")") +
                              ", got " + shape_str(a));
    }
}

void require_int32_extent(int64_t value, const char* what) {
    if (value > std::numeric_limits<int32_t>::max())
        throw py::value_error(std::string(what) + " = " + std::to_string(value) +
                              " overflows the int32 indices of sparse formats");
}

CallOpts call_opts(const py::object& isa, int threads) {
    std::string name;
    if (!isa.is_none()) {
        if (!py::isinstance<py::str>(isa)) throw py::type_error("isa must be a str or None");
        name = isa.cast<std::string>();
    }
    try {
        return {static_cast<int>(resolve_isa(name)), resolve_threads(threads)};
    } catch (std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

}  // namespace sb::bind
