"""The pair seen from the wire: VRRP adverts and who answers ARP for a virtual address.

packet.py      VRRP v2/v3 advertisements: decode (every reception check), encode
listen.py      ``kakit vrrp listen``: the raw socket, the table per VRID and its findings
arp.py         ARP probes and replies on an AF_PACKET socket; the node's IPv4 addresses
splitbrain.py  split-brain detection: another host answers for a VIP this node holds
"""
