// Writes dlib's face recognition ResNet (dlib_face_recognition_resnet_model_v1.dat) as dlib's own XML
// description of the loaded network, layer by layer with their weights, for faces/convert/onnx_model.py.
// The network type is the one dlib declares for this model (examples/dnn_face_recognition_ex.cpp).
//
//   g++ -std=c++14 -O1 dlib_net_to_xml.cpp -ldlib -lpthread -o dlib_net_to_xml
//   ./dlib_net_to_xml MODEL.dat OUT.xml
#include <dlib/dnn.h>
#include <iostream>

using namespace dlib;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;

template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;

template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;

template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;

using anet_type = loss_metric<fc_no_bias<128, avg_pool_everything<
    alevel0<alevel1<alevel2<alevel3<alevel4<
    max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: " << argv[0] << " MODEL.dat OUT.xml\n";
        return 2;
    }
    try {
        anet_type net;
        deserialize(argv[1]) >> net;
        net_to_xml(net, argv[2]);
    } catch (std::exception& error) {
        std::cerr << error.what() << "\n";
        return 1;
    }
    return 0;
}
