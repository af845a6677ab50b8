// The virtio-net header that PACKET_VNET_HDR sockets prepend to every frame.
//
// <linux/virtio_net.h> (uapi 6.1) names a struct member `class`, a C++ keyword, so it only
// compiles as C++ with that name remapped while it is parsed. Include this header instead of the
// kernel one; it also supplies constants that Debian 12's uapi headers predate.
#pragma once

#define class class_
#include <linux/virtio_net.h>
#undef class

#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5  // USO; value fixed by the virtio spec
#endif
