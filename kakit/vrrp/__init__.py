"""The pair seen from the wire: VRRP adverts and who answers (ARP or ND) for a virtual address.

packet.py      VRRP v2/v3 advertisements: decode (every reception check), encode
listen.py      ``kakit vrrp listen``: the raw socket, the table per VRID and its findings
arp.py         ARP probes and replies (IPv4); the kernel's ARP cache
nd.py          Neighbor Discovery: DAD solicitations and advertisements (IPv6)
probe.py       one round of ARP and ND probes on a filtered AF_PACKET socket; the node's addresses
splitbrain.py  split-brain detection: another host answers for a VIP this node holds
"""
